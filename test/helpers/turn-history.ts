/** A conversation's workflow history as a test reads it: all its events, and the last turn's. */
import type { temporal } from '@temporalio/proto';
import { historyAfterTurns } from '../../src/replay/history';
import { conversationWorkflowId } from '../../workflows/contract';
import type { Stack } from './stack';

export { historyAfterTurns };
export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The conversation's history after its turns settled; `{ inFlight: true }` reads it as it is, mid-turn. */
export async function eventsOf(
  stack: Stack,
  tenantId: string,
  conversationId: string,
  opts: { inFlight?: boolean } = {},
): Promise<HistoryEvent[]> {
  const handle = stack.serving.services.temporal.client.workflow.getHandle(
    conversationWorkflowId(tenantId, conversationId),
  );
  return (opts.inFlight ? await handle.fetchHistory() : await historyAfterTurns(handle)).events ?? [];
}

/** The events of the last turn: from its update's acceptance to its completion. */
export function lastTurn(events: HistoryEvent[]): HistoryEvent[] {
  const accepted = events.findLastIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  const completed = events.findLastIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
  return events.slice(accepted, completed + 1);
}
