/**
 * The same workflow after a bad deploy: the timer is gone, with no `patched()`. A history recorded by v1 no longer
 * replays on it (non-determinism), however often the task is retried.
 */
import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

export const pingUpdate = defineUpdate<string>('ping');

export async function changingWorkflow(): Promise<void> {
  setHandler(pingUpdate, () => 'pong');
  await condition(() => false);
}
