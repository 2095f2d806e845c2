/**
 * Why a conversation's workflow task is failing, asked when the server refuses an update with "Workflow Task in
 * failed state". Most such failures pass (a killed or starved worker's task is retried on a live one: 503, retry).
 * A non-determinism failure does not: the deployed workflow code no longer replays the conversation's history (a
 * change shipped without `patched()`), and every retry fails the same way until an operator rolls the deploy back
 * or resets the workflow — so the client is told so (500 `workflow_broken`), not asked to retry forever.
 */
import type { Client } from '@temporalio/client';
import { MemoirError, toMemoirError } from './errors';
import { isWorkflowTaskFailing } from './unavailable';

/**
 * `WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR` in Temporal's API protos; the number
 * itself, so the client package does not bundle `@temporalio/proto` for one enum value.
 */
const NON_DETERMINISTIC = 24;
/** The failing task's first failure is the newest workflow-task event; a few events after it at most (signals). */
const EVENTS_READ = 20;

export const workflowBroken = (workflowId: string, detail: string) =>
  new MemoirError(
    'workflow_broken',
    500,
    `the conversation's workflow cannot continue on the deployed code (non-determinism: ${detail}); an operator must ` +
      `roll the deploy back or reset workflow ${workflowId} — retrying will not help`,
  );

/** As `toMemoirError`, but a refusal because the workflow task fails for good (non-determinism) is a 500. */
export async function explainedError(client: Client, workflowId: string, err: unknown): Promise<unknown> {
  if (isWorkflowTaskFailing(err)) {
    // If the history cannot be read either, the refusal stays a 503: the server itself may be struggling.
    const broken = await nonDeterminism(client, workflowId).catch(() => undefined);
    if (broken !== undefined) return workflowBroken(workflowId, broken);
  }
  return toMemoirError(err);
}

/** The failure message when the workflow's task is failing on non-determinism; undefined otherwise. */
export async function nonDeterminism(client: Client, workflowId: string): Promise<string | undefined> {
  const page = await client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: client.options.namespace,
    execution: { workflowId },
    maximumPageSize: EVENTS_READ,
  });
  for (const event of page.history?.events ?? []) {
    // Newest first: a completed task after the last failure means the failure was overcome.
    if (event.workflowTaskCompletedEventAttributes) return undefined;
    const failed = event.workflowTaskFailedEventAttributes;
    if (failed)
      return Number(failed.cause) === NON_DETERMINISTIC ? (failed.failure?.message ?? 'no detail') : undefined;
  }
  return undefined;
}
