/**
 * The erasure fence: an activity that started before its conversation (or user, or tenant) was erased must not
 * write vectors or cache entries back after the erasure removed them. Checked right before such writes.
 */
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps';

/** True when the conversation was erased since this activity attempt was scheduled. */
export async function erasedMeanwhile(
  deps: Pick<ActivityDeps, 'conversations'>,
  scope: { tenantId: string; conversationId: string; userId?: string | undefined },
): Promise<boolean> {
  const since = new Date(Context.current().info.currentAttemptScheduledTimestampMs);
  return deps.conversations.erasedSince(scope, since);
}
