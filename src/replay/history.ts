/**
 * Workflow histories as files: fetched from the server, written as the JSON that `temporal workflow show -o json`
 * writes, and read back from either. Replay and `memoir history export` share these.
 */
import fs from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { historyFromProtoJson, historyToProtoJson } from './proto-json';

export type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** One run's history from the server; the latest run when `runId` is absent. */
export async function fetchHistory(client: Client, workflowId: string, runId?: string): Promise<History> {
  return client.workflow.getHandle(workflowId, runId).fetchHistory();
}

/** Updates the history shows accepted and not yet completed: turns whose workflow task is still to come. */
export function openUpdates(history: History): number {
  const events = history.events ?? [];
  return (
    events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length -
    events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length
  );
}

/**
 * A run's history once its turns are recorded: no workflow task pending and every accepted update completed. A
 * reply reaches its client as soon as the turn is stored (reply on commit, src/storage/turn-notices.ts), before
 * history records the update's completion (an activity's completion and a workflow task later) or, with a local
 * model call, even its acceptance (the workflow task that runs the call records both when it completes). Who reads
 * history right after a turn (tests, benchmarks, captures) reads it through this.
 */
export async function historyAfterTurns(
  handle: Pick<WorkflowHandle, 'fetchHistory' | 'describe'>,
  timeoutMs = 30_000,
): Promise<History> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pendingTask = (await handle.describe()).raw.pendingWorkflowTask;
    const history = await handle.fetchHistory();
    const open = openUpdates(history);
    if (open === 0 && !pendingTask) return history;
    if (Date.now() > deadline) {
      throw new Error(
        `turns still not recorded after ${timeoutMs} ms (${open} open update(s), task pending: ${!!pendingTask})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The proto JSON form of a history (event ids as strings, enums by name, payloads in base64). */
export function historyJson(history: History): string {
  return historyToProtoJson(history);
}

/**
 * Parses a history file: the JSON this module writes, `temporal workflow show -o json`, or the UI's download.
 * Throws with the file name when it is not a history.
 */
export function readHistoryFile(file: string): History {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a JSON file (${err instanceof Error ? err.message : String(err)})`);
  }
  const events = (parsed as { events?: unknown } | null)?.events;
  if (!Array.isArray(events) || events.length === 0) throw new Error(`${file}: not a workflow history (no events)`);
  try {
    return historyFromProtoJson(parsed);
  } catch (err) {
    throw new Error(`${file}: not a workflow history (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** `ActivityTaskScheduled` for EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: the name the UI and the CLI show. */
export function eventTypeName(event: HistoryEvent): string {
  const raw = event.eventType as unknown;
  const name = typeof raw === 'string' ? raw : temporal.api.enums.v1.EventType[event.eventType ?? 0];
  return (name ?? 'Unknown')
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _sep: string, c: string) => c.toUpperCase());
}

export function eventId(event: HistoryEvent): number {
  return Number(event.eventId ?? 0);
}

/** The workflow type recorded in the first event, if the history starts where a run starts. */
export function workflowTypeOf(history: History): string | undefined {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
}

/** The activity type an ActivityTaskScheduled event names. */
export function activityTypeOf(event: HistoryEvent): string | undefined {
  return event.activityTaskScheduledEventAttributes?.activityType?.name ?? undefined;
}
