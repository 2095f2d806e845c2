/**
 * Where a turn's time goes, read from its workflow history. Each turn is one update (its id is the message id);
 * between the workflow task that accepted it and its completion the history holds the three steps — activities
 * with scheduled, started and completed times, or local activities as markers with their scheduling and completion
 * times — and the workflow tasks that moved from one to the next.
 */
import type { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { historyAfterTurns } from '../../src/replay/history';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface TurnPhases {
  /** loadContext, started → completed. */
  contextMs: number;
  /** generateReply, started → completed (includes the model's own time; subtract it). */
  modelActivityMs: number;
  /**
   * persistTurn, started → completed. Zero for turns whose model call stored them (patch `model-call-persists-turn`):
   * the write is then inside `modelActivityMs`.
   */
  persistMs: number;
  /** Activities scheduled → started, summed: Temporal handing the tasks to the worker. */
  activityDispatchMs: number;
  /** Workflow tasks scheduled → completed, summed, and the gaps between events: Temporal and workflow code. */
  workflowTasksMs: number;
  /** From the accepting workflow task being scheduled to the update's completion. */
  spanMs: number;
}

const EventType = {
  workflowTaskScheduled: 5,
  workflowTaskStarted: 6,
  workflowTaskCompleted: 7,
  activityScheduled: 10,
  activityStarted: 11,
  activityCompleted: 12,
  markerRecorded: 25,
  updateAccepted: 41,
  updateCompleted: 43,
} as const;

/** Longest gap between a heartbeated task's completion and the next task's scheduling (the same server request). */
const HEARTBEAT_GAP_MS = 5;

const TURN_ACTIVITIES = new Set(['loadContext', 'generateReply', 'persistTurn']);
/**
 * The local model call of MEMOIR_MODEL_CALL=local (patch `model-call-handover`) is the model call's first part: a
 * long call goes on in the generateReply activity that adopts it, whose time is added to it.
 */
const stepOf = (name: string) => (name === 'replyOrHandOver' ? 'generateReply' : name);

const at = (e: HistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** Phases of every update in one workflow run's history, keyed by update id (= message id). */
export function phasesFromHistory(events: readonly HistoryEvent[]): Map<string, TurnPhases> {
  const out = new Map<string, TurnPhases>();
  const activities = new Map<string, { name: string; scheduled: number; started?: number }>();
  let wftScheduled = 0;
  let wftCompleted = 0;
  // Where the running local activity's workflow task began: a task the SDK heartbeats (a local activity outlasting
  // 80 % of the task timeout; MEMOIR_MODEL_CALL=local) completes with no command and the next one goes on at once,
  // so the step began in the first of that chain, not in the task its marker follows.
  let chainStarted = 0;
  let heartbeat = false;
  let lastCompleted = false;
  let current: { id: string; start: number; acts: Record<string, number>; dispatch: number } | undefined;
  for (const e of events) {
    const t = at(e);
    const type = Number(e.eventType);
    // A heartbeat's completed task is followed by the next task's scheduling, or by the acceptance of an update it
    // carried (the first heartbeat of a turn accepts it).
    const continues: boolean =
      type === EventType.workflowTaskCompleted || (lastCompleted && type === EventType.updateAccepted);
    switch (type) {
      case EventType.workflowTaskScheduled:
        wftScheduled = t;
        // The heartbeat's next task is scheduled in the same request; a task for a later message comes later.
        heartbeat = lastCompleted && t - wftCompleted <= HEARTBEAT_GAP_MS;
        break;
      case EventType.workflowTaskStarted:
        // Only a turn in progress has a chain: a task after an upkeep step that completed with no command starts anew.
        if (!heartbeat || !current) chainStarted = t;
        break;
      case EventType.workflowTaskCompleted:
        wftCompleted = t;
        break;
      case EventType.updateAccepted: {
        const id = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId ?? '';
        current = { id, start: wftScheduled, acts: {}, dispatch: 0 };
        break;
      }
      case EventType.activityScheduled:
        activities.set(String(e.eventId), {
          name: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '',
          scheduled: t,
        });
        break;
      case EventType.activityStarted: {
        const a = activities.get(String(e.activityTaskStartedEventAttributes?.scheduledEventId));
        if (a) a.started = t;
        break;
      }
      case EventType.activityCompleted: {
        const a = activities.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId));
        // Only the turn's own activities: memory upkeep (indexing, compaction, facts) runs beside the turns.
        if (a && current && a.started !== undefined && TURN_ACTIVITIES.has(a.name)) {
          current.acts[a.name] = (current.acts[a.name] ?? 0) + (t - a.started);
          current.dispatch += a.started - a.scheduled;
        }
        break;
      }
      case EventType.markerRecorded: {
        // A local activity (turn steps of runs with the 'turn-steps-local' patch; the model call with
        // MEMOIR_MODEL_CALL=local) ran inside the workflow task whose completion precedes its marker, or in the chain
        // of heartbeated tasks ending there; the marker's own times come from the worker's clocks and are not
        // comparable, so the step is charged that task's (or chain's) started → completed time, workflow code included.
        const type = localActivityType(e);
        const name = type && stepOf(type);
        if (name && current && TURN_ACTIVITIES.has(name))
          current.acts[name] = (current.acts[name] ?? 0) + (wftCompleted - chainStarted);
        break;
      }
      case EventType.updateCompleted: {
        const id = e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId ?? '';
        if (current && current.id === id) {
          const spanMs = t - current.start;
          const contextMs = current.acts.loadContext ?? 0;
          const modelActivityMs = current.acts.generateReply ?? 0;
          const persistMs = current.acts.persistTurn ?? 0;
          out.set(id, {
            contextMs,
            modelActivityMs,
            persistMs,
            activityDispatchMs: current.dispatch,
            workflowTasksMs: spanMs - contextMs - modelActivityMs - persistMs - current.dispatch,
            spanMs,
          });
        }
        current = undefined;
        break;
      }
      default:
        break;
    }
    if (type !== EventType.workflowTaskScheduled) lastCompleted = continues;
  }
  return out;
}

/** The activity type a local activity marker records, or undefined for any other marker. */
function localActivityType(e: HistoryEvent): string | undefined {
  const attrs = e.markerRecordedEventAttributes;
  if (attrs?.markerName !== 'core_local_activity') return undefined;
  const data = attrs.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    const d = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: unknown };
    return typeof d.activity_type === 'string' ? d.activity_type : undefined;
  } catch {
    return undefined;
  }
}

/** Phases of the wanted turns of a conversation: its latest run, then the runs it continued from, as needed. */
export async function conversationPhases(
  client: Client,
  workflowId: string,
  want: ReadonlySet<string>,
): Promise<Map<string, TurnPhases>> {
  const found = new Map<string, TurnPhases>();
  let runId: string | undefined;
  for (let runs = 0; runs < 50; runs++) {
    const history = await historyAfterTurns(client.workflow.getHandle(workflowId, runId));
    const events = history.events ?? [];
    for (const [id, p] of phasesFromHistory(events)) if (want.has(id)) found.set(id, p);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId || [...want].every((id) => found.has(id))) break;
  }
  return found;
}
