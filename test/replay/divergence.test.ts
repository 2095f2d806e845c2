/**
 * Reading Core's non-determinism messages: the event, what the history recorded there and the command the code
 * issued instead, for each way Core words them. Pure: no server, no replay.
 */
import { findDivergence } from '../../src/replay/divergence';
import { describeOutcome } from '../../src/replay/replay';
import { committedHistories } from './histories';

// The capture from before the turn's steps became local activities: its events are regular activities, which
// is what these messages name.
const { history } = committedHistories().find((h) => h.name === 'plain-turn.21b4bfe')!;
const wrap = (inner: string) =>
  'Replay failed with a nondeterminism error. This means that the workflow code as written is not compatible with ' +
  `the history that was fed in. Details: Workflow activation completion failed: Failure { failure: Some(Failure { ` +
  `message: "[TMPRL1100] Nondeterminism error: ${inner}", source: "", stack_trace: "" }) }`;

describe('findDivergence', () => {
  it('reads "<machine> does not handle this event" and fills in the event from the history', () => {
    const d = findDivergence(
      wrap('Timer machine does not handle this event: HistoryEvent(id: 6, ActivityTaskScheduled)'),
      history,
    );
    expect(d).toEqual({
      eventId: 6,
      eventType: 'ActivityTaskScheduled',
      expected: 'ActivityTaskScheduled openConversation',
      command: 'StartTimer',
      detail:
        '[TMPRL1100] Nondeterminism error: Timer machine does not handle this event: HistoryEvent(id: 6, ActivityTaskScheduled)',
    });
  });

  it('reads an activity type mismatch and finds the event it names', () => {
    const d = findDivergence(
      wrap(
        "Activity type of scheduled event 'openConversation' does not match activity type of activity command 'loadContext'",
      ),
      history,
    );
    expect(d).toMatchObject({
      eventId: 6,
      eventType: 'ActivityTaskScheduled',
      expected: 'ActivityTaskScheduled openConversation',
      command: 'ScheduleActivityTask loadContext',
    });
  });

  it('says when the event is only the first candidate', () => {
    const d = findDivergence(
      wrap(
        "Activity type of scheduled event 'loadContext' does not match activity type of activity command 'persistTurn'",
      ),
      history,
    );
    expect(d.command).toBe('ScheduleActivityTask persistTurn');
    expect(d.expected).toBe('ActivityTaskScheduled loadContext');
    expect(d.detail).toContain("is the first that schedules 'loadContext'; it may be a later one");
  });

  it('reads "no command scheduled" (the code stopped short)', () => {
    const d = findDivergence(
      wrap('No command scheduled for event HistoryEvent(id: 13, ActivityTaskScheduled)'),
      history,
    );
    // Event 13 of the plain-turn history is the indexing pass a new run starts beside its first turn.
    expect(d).toMatchObject({
      eventId: 13,
      expected: 'ActivityTaskScheduled indexMessages',
      command: expect.stringMatching(/^no command/),
    });
  });

  it('keeps the message when it names nothing it knows', () => {
    expect(findDivergence('something else entirely', history)).toEqual({ detail: 'something else entirely' });
  });
});

describe('describeOutcome', () => {
  it('reduces a workflow task failure to the error and its first frames', () => {
    const message =
      'Replay failed due workflow task failure. Details: Workflow activation completion failed: Failure { failure: ' +
      'Some(Failure { message: "Invalid millis NaN", source: "TypeScriptSDK", stack_trace: "bundle.js:1\\n' +
      '\\nValueError: Invalid millis NaN\\n    at msToTs (/x/node_modules/@temporalio/common/src/time.ts:67:9)\\n' +
      '    at idle (/x/workflows/conversation.ts:120:5)", encoded_attributes: None }) }';
    expect(describeOutcome({ ok: false, kind: 'error', events: 3, message }, 'h.json')).toBe(
      'FAILED: h.json could not be replayed: the workflow threw: Invalid millis NaN\n' +
        '  at idle (/x/workflows/conversation.ts:120:5)',
    );
  });
});
