/** A conversation's workflow history as a test reads it: all its events, and the last turn's. */
import type { temporal } from '@temporalio/proto';
import { conversationWorkflowId } from '../../workflows/contract';
import type { Stack } from './stack';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export async function eventsOf(stack: Stack, tenantId: string, conversationId: string): Promise<HistoryEvent[]> {
  const handle = stack.serving.services.temporal.client.workflow.getHandle(
    conversationWorkflowId(tenantId, conversationId),
  );
  return (await handle.fetchHistory()).events ?? [];
}

/** The events of the last turn: from its update's acceptance to its completion. */
export function lastTurn(events: HistoryEvent[]): HistoryEvent[] {
  const accepted = events.findLastIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  const completed = events.findLastIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
  return events.slice(accepted, completed + 1);
}
