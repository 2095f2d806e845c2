/**
 * A logger carrying the activity's coordinates — workflow id, run id, activity type, attempt — so any log line can
 * be traced back to its conversation in the Temporal UI. Message text never goes into these lines.
 */
import { Context } from '@temporalio/activity';
import type { Logger } from '../src/log';

export function activityLogger(log: Logger): Logger {
  const info = Context.current().info;
  return log.child({
    workflowId: info.workflowExecution?.workflowId,
    runId: info.workflowExecution?.runId,
    activity: info.activityType,
    attempt: info.attempt,
  });
}

/** Seconds since `start` (from performance.now()). */
export const secondsSince = (start: number) => (performance.now() - start) / 1000;
