/**
 * Every committed history (test/replay/histories/, captured from real runs by scripts/capture-histories.ts) must
 * replay against the current workflow code. A change to workflows/ that would break conversations already running
 * in production fails here first. The second half proves the check can fail: a deliberately changed workflow is
 * reported as non-deterministic, naming the event and the command.
 */
import path from 'node:path';
import { createLogger } from '../../src/log';
import { eventId, eventTypeName } from '../../src/replay/history';
import { describeOutcome, replayHistory } from '../../src/replay/replay';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { WORKFLOW_BUNDLE_PATH } from '../helpers/services';
import { bundleOf, committedHistories, FIXTURES_DIR } from './histories';

const histories = committedHistories();

beforeAll(() => {
  // Replay workers log each failed workflow task at WARN; the assertions say what matters.
  installTemporalRuntime(createLogger({ level: 'error' }));
});

describe('committed histories replay against the current workflow code', () => {
  it('has the captured scenarios', () => {
    expect(histories.map((h) => h.name)).toEqual(
      expect.arrayContaining(['continue-as-new', 'degraded', 'fallback', 'plain-turn']),
    );
    const cont = histories.find((h) => h.name === 'continue-as-new')!;
    expect(eventTypeName(cont.history.events!.at(-1)!)).toBe('WorkflowExecutionContinuedAsNew');
  });

  it.each(histories.map((h) => [h.name, h]))('%s', async (_name, { name, history, meta }) => {
    const outcome = await replayHistory(history, {
      // The bundle that ships (dist/workflow-bundles/plain.js): what was replayed is what workers run.
      source: { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } },
      workflowId: meta.workflowId,
    });
    // The message of a failure is the replay report: event, history and command.
    expect(outcome.ok, describeOutcome(outcome, `${name}.json`)).toBe(true);
    expect(outcome.events).toBe(meta.events);
  });
});

describe('the replay check detects non-determinism', () => {
  it('reports an extra activity as a divergence at the event the code disagrees with', async () => {
    // Recorded before the turn's steps became local activities (a fixed history keeps the expected event fixed).
    const { history } = histories.find((h) => h.name === 'plain-turn.21b4bfe')!;
    const outcome = await replayHistory(history, {
      source: { workflowBundle: await bundleOf(path.join(FIXTURES_DIR, 'unpatched.ts')) },
    });
    // The changed code schedules readPolicy where the history next records the first search-attribute upsert.
    const upsert = history.events!.find((e) => eventTypeName(e) === 'UpsertWorkflowSearchAttributes')!;
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'nondeterminism',
      divergence: {
        eventId: eventId(upsert),
        eventType: 'UpsertWorkflowSearchAttributes',
        expected: 'UpsertWorkflowSearchAttributes',
        command: 'ScheduleActivityTask',
      },
    });
    expect(describeOutcome(outcome, 'plain-turn.json')).toContain(
      `NON-DETERMINISTIC: plain-turn.json diverges at event ${eventId(upsert)} (UpsertWorkflowSearchAttributes)`,
    );
  });
});
