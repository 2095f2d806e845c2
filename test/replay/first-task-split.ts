/**
 * A new conversation whose first workflow task is split while its `openConversation` local activity runs, and the
 * history shape Core writes when a query is answered just as that local activity's result comes in. Shared by
 * scripts/capture-histories.ts (scenario `first-task-split`) and test/replay/first-task-split.test.ts.
 */
import type { Client } from '@temporalio/client';
import pg from 'pg';
import type { MemoirClient } from '../../src/client/memoir-client';
import { historyFromProtoJson, historyToProtoJson } from '../../src/replay/proto-json';
import type { History } from '../../src/replay/history';
import { conversationWorkflowId, getStateQuery } from '../../workflows/contract';
import { until } from './stack';

/**
 * Holds `openConversation` (a table lock on `summaries`, which it reads) past 80 % of the 3 s workflow task timeout,
 * so the SDK heartbeats the first task, while `getState` is polled and a second message arrives; then lets it go.
 * Returns the workflow id once both messages are answered.
 */
export async function splitFirstTask(opts: {
  memoir: MemoirClient;
  client: Client;
  databaseUrl: string;
  tenantId: string;
  conversationId: string;
}): Promise<string> {
  const { memoir, client, tenantId, conversationId } = opts;
  const workflowId = conversationWorkflowId(tenantId, conversationId);
  const handle = client.workflow.getHandle(workflowId);
  const holder = new pg.Client({ connectionString: opts.databaseUrl });
  await holder.connect();
  holder.on('error', () => undefined);
  let polling = true;
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE summaries IN ACCESS EXCLUSIVE MODE');
    const first = memoir.sendMessage(tenantId, conversationId, {
      content: 'Hello! My name is Ada.',
      messageId: 'm1',
      userId: 'ada',
    });
    // pg_stat_activity is a snapshot per transaction: cleared before each look.
    await until(async () => {
      await holder.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await holder.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows.length > 0 ? true : undefined;
    }, 'openConversation waiting for the summaries table');
    const queries = (async () => {
      while (polling) await handle.query(getStateQuery).catch(() => undefined);
    })();
    const second = memoir.sendMessage(tenantId, conversationId, { content: 'Are you there?', messageId: 'm2' });
    await until(async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      return events.some((e) => e.workflowTaskCompletedEventAttributes) ? true : undefined;
    }, 'the first workflow task heartbeated');
    await holder.query('ROLLBACK');
    await Promise.all([first, second]);
    polling = false;
    await queries;
    return workflowId;
  } finally {
    polling = false;
    await holder.end();
  }
}

type JsonEvent = { eventId: string; eventType: string; [attributes: string]: unknown };

/**
 * The history as Core writes it when a query's answer completes a workflow task while a local activity's result
 * has reached Core but not yet the workflow code (`has_query_responses && have_pending_la_resolutions`): the
 * task records the local activity's marker and forces a new task, and everything the code does with the result
 * lands in that next task. Made from a history whose first local activity's marker follows a workflow task of
 * its own: a workflow task (scheduled, started, completed) is added right after the marker. Event ids and the
 * references to them are renumbered.
 */
export function answerQueryBeforeResolution(history: History): History {
  const json = JSON.parse(historyToProtoJson(history)) as { events: JsonEvent[] };
  const events = json.events;
  const at = events.findIndex((e) => markerName(e) === 'core_local_activity');
  const started = events.slice(0, at).findLastIndex((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_STARTED');
  if (at < 0 || started < 1) throw new Error('no local activity marker after a workflow task');
  const task = events.slice(started - 1, started + 2); // scheduled, started, completed
  const added = task.map((e) => structuredClone(e));
  const reordered = [...events.slice(0, at + 1), ...added, ...events.slice(at + 1)];
  const renumber = new Map<string, string>();
  reordered.forEach((e, i) => {
    if (!added.includes(e)) renumber.set(e.eventId, String(i + 1));
  });
  const [scheduled, startedEvent, completed] = added as [JsonEvent, JsonEvent, JsonEvent];
  const id = (e: JsonEvent) => String(reordered.indexOf(e) + 1);
  const refs = (e: JsonEvent, map: (ref: string) => string) => remap(e, map);
  for (const e of reordered) {
    if (added.includes(e)) continue;
    // Commands after the marker were completed by the added task; everything else keeps its references.
    const after = reordered.indexOf(e) > at;
    refs(e, (ref) => (after && ref === completedOf(events, at) ? id(completed) : (renumber.get(ref) ?? ref)));
  }
  refs(startedEvent, () => id(scheduled));
  remapKeys(completed, { scheduledEventId: id(scheduled), startedEventId: id(startedEvent) });
  reordered.forEach((e, i) => (e.eventId = String(i + 1)));
  return historyFromProtoJson({ events: reordered });
}

function markerName(e: JsonEvent): string | undefined {
  return (e.markerRecordedEventAttributes as { markerName?: string } | undefined)?.markerName;
}

/** The id of the workflow task completion the commands after `at` belong to (the last one before them). */
function completedOf(events: JsonEvent[], at: number): string {
  return events.slice(0, at).findLast((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED')!.eventId;
}

/** Rewrites every `…EventId` field of the event's attributes. */
function remap(event: JsonEvent, map: (ref: string) => string): void {
  const walk = (value: unknown): void => {
    if (!value || typeof value !== 'object') return;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (key.endsWith('EventId') && (typeof v === 'string' || typeof v === 'number')) {
        (value as Record<string, unknown>)[key] = map(String(v));
      } else walk(v);
    }
  };
  for (const [key, v] of Object.entries(event)) if (key.endsWith('Attributes')) walk(v);
}

function remapKeys(event: JsonEvent, values: Record<string, string>): void {
  remap(event, () => '');
  const attrs = event.workflowTaskCompletedEventAttributes as Record<string, unknown>;
  Object.assign(attrs, values);
}
