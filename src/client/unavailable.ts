/**
 * Whether an error means a service Memoir depends on (the Temporal server, PostgreSQL) could not be reached or
 * answered too late — a condition that passes, so the caller is told to retry rather than shown a 500.
 */

/** gRPC status codes the Temporal client reports: the server is unreachable, or did not answer in time. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
/**
 * FAILED_PRECONDITION with this message: the server refuses updates while a conversation's workflow task is being
 * retried — its worker was killed, or starved past the task timeout — until a worker completes it (seconds). A task
 * that fails for good on non-determinism also answers this: the client asks why (src/client/failing-task.ts) and
 * answers 500 `workflow_broken` for it.
 */
const GRPC_FAILED_PRECONDITION = 9;
const WORKFLOW_TASK_FAILING = /Workflow Task in failed state/;
/** Node socket errors: nothing listening, the connection dropped, no route. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
/** PostgreSQL SQLSTATEs: the server is shutting down, starting up, or out of connections. */
const PG_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
/** What `pg` throws (without a code) when a connection ends under it or the pool cannot get one in time. */
const PG_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/;

export function isDependencyUnavailable(err: unknown): boolean {
  if (isWorkflowTaskFailing(err)) return true;
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) return true;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || PG_CODES.has(code) || code.startsWith('08')))
      return true;
    if (PG_MESSAGES.test(current.message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The server refused an update because the workflow's task is failing (why: src/client/failing-task.ts). */
export function isWorkflowTaskFailing(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === GRPC_FAILED_PRECONDITION && WORKFLOW_TASK_FAILING.test(current.message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
