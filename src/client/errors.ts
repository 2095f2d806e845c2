/**
 * Errors a Memoir client sees, each with a stable code and the HTTP status the API answers with.
 */
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowUpdateFailedError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { FailureTypes } from '../../workflows/contract';
import { ModelFailure } from '../model/failure-types';
import { isDependencyUnavailable } from './unavailable';

export class MemoirError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'MemoirError';
  }
}

const BY_FAILURE_TYPE: Record<string, [code: string, status: number]> = {
  [FailureTypes.invalidMessage]: ['invalid_message', 400],
  [FailureTypes.contentTooLarge]: ['content_too_large', 413],
  [FailureTypes.conversationEnded]: ['conversation_ended', 409],
  [FailureTypes.conversationBusy]: ['conversation_busy', 503],
  [FailureTypes.conversationNotFound]: ['not_found', 404],
  [FailureTypes.messageIdConflict]: ['message_id_conflict', 409],
  [ModelFailure.budgetExceeded]: ['budget_exceeded', 402],
  [FailureTypes.unknownTool]: ['unknown_tool', 400],
  [FailureTypes.toolCallNotPending]: ['tool_call_not_pending', 409],
};

export const notFound = (what: string) => new MemoirError('not_found', 404, `${what} not found`);

/** Seconds a client is asked to wait when a dependency is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_S = 2;

/**
 * The Temporal server or the database could not be reached: the request may not have been accepted, so the client
 * sends it again — with the same `messageId`, which makes that safe. `cause` (what was thrown) is kept for the logs:
 * an operator needs to tell a refused update from a dropped connection; clients are not shown it.
 */
export const unavailable = (cause?: unknown) =>
  Object.assign(
    new MemoirError('unavailable', 503, 'a service Memoir depends on is unreachable; retry with the same messageId', {
      retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S,
    }),
    cause === undefined ? {} : { cause },
  );

/** The MemoirError for a workflow failure type, when it is one clients should see as such. */
export function fromFailureType(type: string, message: string): MemoirError | undefined {
  const known = BY_FAILURE_TYPE[type];
  return known ? new MemoirError(known[0], known[1], message) : undefined;
}

/** Maps what the Temporal client threw to a MemoirError; anything unexpected is rethrown unchanged. */
export function toMemoirError(err: unknown): unknown {
  if (err instanceof MemoirError) return err;
  if (err instanceof WorkflowNotFoundError) return notFound('conversation');
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new MemoirError('conversation_exists', 409, 'a conversation with this id already exists');
  }
  const failure = applicationFailureOf(err);
  const known = failure?.type && fromFailureType(failure.type, failure.message);
  if (known) return known;
  if (isDependencyUnavailable(err)) return unavailable(err);
  return err;
}

function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof ApplicationFailure) return current;
    if (current instanceof WorkflowUpdateFailedError || current instanceof Error)
      current = (current as { cause?: unknown }).cause;
    else break;
  }
  return undefined;
}
