/** A workflow as first deployed: it starts a timer, then waits. Its successor (v2) leaves the timer out. */
import { condition, defineUpdate, setHandler, sleep } from '@temporalio/workflow';

export const pingUpdate = defineUpdate<string>('ping');

export async function changingWorkflow(): Promise<void> {
  setHandler(pingUpdate, () => 'pong');
  await sleep(1);
  await condition(() => false);
}
