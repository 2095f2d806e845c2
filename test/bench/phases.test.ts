/**
 * The overhead suite's phase split read from a turn's history. A local model call (MEMOIR_MODEL_CALL=local) that
 * outlasts 80 % of the workflow task timeout runs across heartbeated tasks: its time is the whole chain, not the
 * last task, or the model's time lands in "workflow tasks" and "model call minus model" goes negative; a call handed
 * over to an activity (patch `model-call-handover`) is its local part and the adopting activity.
 */
import type { temporal } from '@temporalio/proto';
import { phasesFromHistory } from '../../bench/lib/phases';

type Event = temporal.api.history.v1.IHistoryEvent;
/** The proto's 64-bit fields; the reader takes plain numbers as well (Number(...)). */
const long = (n: number) => n as unknown as NonNullable<Event['eventId']>;

const T = {
  scheduled: 5,
  started: 6,
  completed: 7,
  activityScheduled: 10,
  activityStarted: 11,
  activityCompleted: 12,
  marker: 25,
  accepted: 41,
  updateCompleted: 43,
};
const time = (ms: number) => ({ seconds: long(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
let nextId = 1;
const ev = (eventType: number, ms: number, extra: Partial<Event> = {}): Event => ({
  eventId: long(nextId++),
  eventType,
  eventTime: time(ms),
  ...extra,
});
const accepted = (ms: number, updateId: string) =>
  ev(T.accepted, ms, { workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { meta: { updateId } } } });
const done = (ms: number, updateId: string) =>
  ev(T.updateCompleted, ms, { workflowExecutionUpdateCompletedEventAttributes: { meta: { updateId } } });
const localCall = (ms: number, activityType = 'generateReply') =>
  ev(T.marker, ms, {
    markerRecordedEventAttributes: {
      markerName: 'core_local_activity',
      details: { data: { payloads: [{ data: Buffer.from(JSON.stringify({ activity_type: activityType })) }] } },
    },
  });

it('charges a local model call over heartbeated workflow tasks from the first task to the last', () => {
  const events = [
    // An earlier task that completed with no command, long before: not part of the turn's chain.
    ev(T.scheduled, 0),
    ev(T.started, 1),
    ev(T.completed, 2),
    // One just before the message came (an upkeep step's result): not part of it either.
    ev(T.scheduled, 997),
    ev(T.started, 998),
    ev(T.completed, 999),
    // The turn: accepted by the first heartbeat, two more tasks, the call's marker after the last.
    ev(T.scheduled, 1_000),
    ev(T.started, 1_002),
    ev(T.completed, 3_402),
    accepted(3_402, 'm1'),
    ev(T.scheduled, 3_402),
    ev(T.started, 3_404),
    ev(T.completed, 5_804),
    ev(T.scheduled, 5_804),
    ev(T.started, 5_806),
    ev(T.completed, 6_010),
    localCall(6_010),
    done(6_010, 'm1'),
  ];
  const turn = phasesFromHistory(events).get('m1')!;
  expect(turn.modelActivityMs).toBe(6_010 - 1_002);
  expect(turn.spanMs).toBe(6_010 - 1_000);
  expect(turn.workflowTasksMs).toBe(2);
});

it('charges a local model call inside one task that task, and an activity its started → completed', () => {
  const events = [
    ev(T.scheduled, 0),
    ev(T.started, 2),
    ev(T.completed, 30),
    accepted(30, 'm1'),
    localCall(30),
    done(30, 'm1'),
    ev(T.scheduled, 5_000),
    ev(T.started, 5_002),
    ev(T.completed, 5_010),
    accepted(5_010, 'm2'),
    ev(T.activityScheduled, 5_010, {
      activityTaskScheduledEventAttributes: { activityType: { name: 'generateReply' } },
    }),
    ev(T.activityStarted, 5_011, { activityTaskStartedEventAttributes: { scheduledEventId: long(nextId - 1) } }),
    ev(T.activityCompleted, 5_031, { activityTaskCompletedEventAttributes: { scheduledEventId: long(nextId - 2) } }),
    ev(T.scheduled, 5_031),
    ev(T.started, 5_033),
    ev(T.completed, 5_040),
    done(5_040, 'm2'),
  ];
  const phases = phasesFromHistory(events);
  expect(phases.get('m1')).toMatchObject({ modelActivityMs: 28, workflowTasksMs: 2, spanMs: 30 });
  expect(phases.get('m2')).toMatchObject({ modelActivityMs: 20, activityDispatchMs: 1, spanMs: 40 });
});

it('charges a handed-over model call its local part and the adopting activity', () => {
  const events = [
    ev(T.scheduled, 0),
    ev(T.started, 2),
    ev(T.completed, 1_510),
    accepted(1_510, 'm1'),
    // The local call handed over after 1.5 s (patch model-call-handover); generateReply adopts it.
    localCall(1_510, 'replyOrHandOver'),
    ev(T.activityScheduled, 1_510, {
      activityTaskScheduledEventAttributes: { activityType: { name: 'generateReply' } },
    }),
    ev(T.activityStarted, 1_511, { activityTaskStartedEventAttributes: { scheduledEventId: long(nextId - 1) } }),
    ev(T.activityCompleted, 5_000, { activityTaskCompletedEventAttributes: { scheduledEventId: long(nextId - 2) } }),
    ev(T.scheduled, 5_000),
    ev(T.started, 5_002),
    ev(T.completed, 5_010),
    done(5_010, 'm1'),
  ];
  expect(phasesFromHistory(events).get('m1')).toMatchObject({
    modelActivityMs: 1_508 + 3_489,
    activityDispatchMs: 1,
    workflowTasksMs: 12,
    spanMs: 5_010,
  });
});
