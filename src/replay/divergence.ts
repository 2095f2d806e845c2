/**
 * What a non-determinism error says, in an operator's words: which history event the code disagreed with, what the
 * history recorded there, and which command the code issued instead. Core words these errors in a few fixed ways
 * (`<Kind> machine does not handle this event: HistoryEvent(id: 12, UpsertWorkflowSearchAttributes)`,
 * `Activity type of scheduled event 'a' does not match activity type of activity command 'b'`, `No command
 * scheduled for event …`); the history fills in what the message leaves out.
 */
import { activityTypeOf, eventId, eventTypeName, type History } from './history';

export interface Divergence {
  /** The history event the replay stopped at, when it can be told. */
  eventId?: number;
  eventType?: string;
  /** What the history recorded at that point, e.g. `ActivityTaskScheduled openConversation`. */
  expected?: string;
  /** What the code did instead, e.g. `ScheduleActivityTask loadContext`, or `no command`. */
  command?: string;
  /** Core's own words. */
  detail: string;
}

/** The command a Core state machine issues, by the machine's name in its error messages. */
const MACHINE_COMMANDS: Record<string, string> = {
  Activity: 'ScheduleActivityTask',
  Timer: 'StartTimer',
  'Complete workflow': 'CompleteWorkflowExecution',
  'Fail workflow': 'FailWorkflowExecution',
  'Cancel workflow': 'CancelWorkflowExecution',
  'Continue as new workflow': 'ContinueAsNewWorkflowExecution',
  'Child workflow': 'StartChildWorkflowExecution',
  'Signal external WF': 'SignalExternalWorkflowExecution',
  'Cancel external WF': 'RequestCancelExternalWorkflowExecution',
  Update: 'an update response',
  'Nexus operation': 'ScheduleNexusOperation',
};

export function findDivergence(message: string, history: History): Divergence {
  const detail = /\[TMPRL1100\][^"]*/.exec(message)?.[0] ?? message;
  const events = history.events ?? [];
  const divergence: Divergence = { detail };

  const at = /HistoryEvent\(id: (\d+), (\w+)\)/.exec(detail);
  if (at) {
    divergence.eventId = Number(at[1]);
    divergence.eventType = at[2]!;
  }
  const machine = /([A-Za-z][A-Za-z ]*?) machine does not handle this event/.exec(detail);
  if (machine) divergence.command = MACHINE_COMMANDS[machine[1]!] ?? `a ${machine[1]} command`;
  if (/No command scheduled for event/.test(detail)) divergence.command = 'no command (the code stopped short)';

  // `<what> of scheduled event 'a' does not match <what> of [local ]activity command 'b'`
  const mismatch =
    /(\w+ \w+) of scheduled event '([^']*)' does not match .* of (local activity|activity) command '([^']*)'/.exec(
      detail,
    );
  if (mismatch) {
    const [, what, recorded, kind, issued] = mismatch;
    divergence.command = `${kind === 'activity' ? 'ScheduleActivityTask' : 'a local activity'} ${issued!}`;
    const byId = what === 'Activity id';
    const match = events.find((e) =>
      byId ? e.activityTaskScheduledEventAttributes?.activityId === recorded : activityTypeOf(e) === recorded,
    );
    if (match && kind === 'activity') {
      divergence.eventId = eventId(match);
      divergence.eventType = eventTypeName(match);
      if (!byId && events.filter((e) => activityTypeOf(e) === recorded).length > 1) {
        divergence.detail += ` (event ${divergence.eventId} is the first that schedules '${recorded}'; it may be a later one)`;
      }
    }
  }

  // `Non-deprecated patch marker encountered for change X, but there is no corresponding change command!`: the
  // history recorded patched('X') where the code, replaying, did something else first.
  const patch = /patch marker encountered for change (\S+?),/.exec(detail);
  if (patch && divergence.eventId === undefined) {
    const marker = events.find((e) => patchIdOf(e) === patch[1]);
    if (marker) {
      divergence.eventId = eventId(marker);
      divergence.eventType = eventTypeName(marker);
    }
    divergence.command = `no patched('${patch[1]!}') call at that point (the code issued another command first)`;
  }

  const event = events.find((e) => eventId(e) === divergence.eventId);
  if (event) divergence.expected = describeEvent(event);
  return divergence;
}

/** An event as the divergence names it: its type, and for the common command events what it was for. */
function describeEvent(event: NonNullable<History['events']>[number]): string {
  const type = eventTypeName(event);
  const activity = activityTypeOf(event);
  if (activity) return `${type} ${activity}`;
  const marker = event.markerRecordedEventAttributes?.markerName;
  if (marker) return `${type} ${marker}`;
  const timer = event.timerStartedEventAttributes?.timerId;
  if (timer) return `${type} (timer ${timer})`;
  return type;
}

/** The change id of a `patched()` marker event (its details hold `{"id": …}` as JSON), else undefined. */
function patchIdOf(event: NonNullable<History['events']>[number]): string | undefined {
  const attrs = event.markerRecordedEventAttributes;
  if (attrs?.markerName !== 'core_patch') return undefined;
  for (const payloads of Object.values(attrs.details ?? {})) {
    for (const payload of payloads?.payloads ?? []) {
      if (!payload.data) continue;
      try {
        const id = (JSON.parse(Buffer.from(payload.data).toString('utf8')) as { id?: unknown }).id;
        if (typeof id === 'string') return id;
      } catch {
        // Not JSON: not a patch payload this reads.
      }
    }
  }
  return undefined;
}
