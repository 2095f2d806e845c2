/**
 * A workflow whose every workflow task fails (a plain Error, not an ApplicationFailure): the server retries the
 * task, as it does a task a killed or starved worker timed out on, and past a few attempts refuses updates.
 */
import { defineUpdate, setHandler } from '@temporalio/workflow';

export const pingUpdate = defineUpdate<string>('ping');

export async function failingTasksWorkflow(): Promise<void> {
  setHandler(pingUpdate, () => 'pong');
  throw new Error('this workflow task always fails');
}
