/**
 * How to change the conversation workflow without breaking the runs already in flight (docs/changing-workflows.md),
 * shown on one change — an extra activity at the start of every run (test/replay/fixtures/change.ts):
 *
 * 1. made naively, it no longer replays the recorded histories;
 * 2. wrapped in `patched('my-change')`, it replays them, and a new run records the patch marker;
 * 3. once only runs with the marker remain, `deprecatePatch` drops the branch and replays those;
 *    but it would not replay a run recorded before the change — that is why step 3 waits.
 */
import path from 'node:path';
import { createLogger } from '../../src/log';
import { eventTypeName, type History } from '../../src/replay/history';
import { describeOutcome, replayHistory, type ReplayOutcome } from '../../src/replay/replay';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { conversationWorkflowId } from '../../workflows/contract';
import { bundleOf, committedHistories, FIXTURES_DIR } from './histories';
import { settledHistory, startReplayStack, type ReplayStack } from './stack';

const CURRENT = path.join(__dirname, '..', '..', 'workflows', 'index.ts');
const fixture = (name: string) => path.join(FIXTURES_DIR, `${name}.ts`);
const histories = committedHistories();

async function replayAgainst(entry: string, history: History): Promise<ReplayOutcome> {
  return replayHistory(history, { source: { workflowBundle: await bundleOf(entry) } });
}

beforeAll(() => {
  installTemporalRuntime(createLogger({ level: 'error' }));
});

describe('an extra activity, made without patched', () => {
  it.each(histories.map((h) => [h.name, h.history]))('breaks the recorded run %s', async (_name, history) => {
    const outcome = await replayAgainst(fixture('unpatched'), history);
    expect(outcome.ok ? 'replayed' : outcome.kind).toBe('nondeterminism');
  });
});

describe('the same change behind patched()', () => {
  it.each(histories.map((h) => [h.name, h.history]))('replays the recorded run %s', async (name, history) => {
    const outcome = await replayAgainst(fixture('patched'), history);
    expect(outcome.ok, describeOutcome(outcome, `${name}.json`)).toBe(true);
  });
});

describe('a run started on the patched code', () => {
  let stack: ReplayStack;
  let history: History;
  beforeAll(async () => {
    stack = await startReplayStack({ workflowSource: { workflowsPath: fixture('patched') } });
    const { memoir, temporal } = stack.serving.services;
    await memoir.sendMessage(stack.tenantId, 'patched', { content: 'Hello', messageId: 'm1', userId: 'u' });
    history = await settledHistory(temporal.client, conversationWorkflowId(stack.tenantId, 'patched'));
  });
  afterAll(() => stack?.stop());

  it('records the patch marker and takes the new path', () => {
    const events = history.events!;
    const marker = events.findIndex((e) => eventTypeName(e) === 'MarkerRecorded');
    const extra = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'readPolicy');
    expect(marker).toBeGreaterThan(0);
    expect(events[marker]!.markerRecordedEventAttributes?.markerName).toBe('core_patch');
    expect(extra).toBeGreaterThan(marker);
  });

  it('replays on the patched code and, once the branch is dropped, on the deprecatePatch code', async () => {
    for (const entry of [fixture('patched'), fixture('deprecated')]) {
      const outcome = await replayAgainst(entry, history);
      expect(outcome.ok, describeOutcome(outcome, entry)).toBe(true);
    }
  });

  it('would not replay on the code before the change: a rollback needs the patch too', async () => {
    const outcome = await replayAgainst(CURRENT, history);
    expect(outcome.ok ? 'replayed' : outcome.kind).toBe('nondeterminism');
  });

  it('is why deprecatePatch waits: runs recorded before the change do not replay on it', async () => {
    const outcome = await replayAgainst(fixture('deprecated'), histories.find((h) => h.name === 'plain-turn')!.history);
    expect(outcome.ok ? 'replayed' : outcome.kind).toBe('nondeterminism');
  });
});
