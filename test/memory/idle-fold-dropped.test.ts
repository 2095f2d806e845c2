/**
 * An idle fold asked for while a compaction runs waits for it. If the user comes back meanwhile, the fold must not
 * run forced afterwards: it would fold the window the user is talking in. On the real dev server, with the summary
 * model held back by the offline model so the compaction is still running when the conversation goes quiet.
 */
import type { temporal } from '@temporalio/proto';
import { conversationWorkflowId } from '../../workflows/contract';
import { waitUntil } from '../reliability/driver';
import { startStack, uniqueId, type Stack } from '../helpers/stack';
import { historyAfterTurns } from '../helpers/turn-history';

const SUMMARY_MODEL = 'claude-haiku-5-5';
/** The first summary call waits on this gate: the compaction runs until the test has done what it needs. */
const SUMMARY_GATE = 'first-compaction';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    api: false,
    env: {
      MEMOIR_SUMMARY_MODEL: SUMMARY_MODEL,
      MEMOIR_COMPACT_AFTER_MESSAGES: '4',
      MEMOIR_RECENT_MESSAGES: '2',
      MEMOIR_COMPACT_WHEN_IDLE: '3s',
      MEMOIR_FACTS_EVERY: '1000',
    },
  });
});
afterAll(() => stack?.stop());

type Event = temporal.api.history.v1.IHistoryEvent;
const scheduled = (events: Event[], activity: string) =>
  events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
const inputOf = (e: Event) =>
  JSON.parse(Buffer.from(e.activityTaskScheduledEventAttributes!.input!.payloads![0]!.data!).toString()) as {
    force: boolean;
  };

it('a user turn arriving drops an idle fold still waiting for a running compaction', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('idle-fold');
  const { memoir, temporal } = stack.serving.services;
  await stack.offline.script([{ model: SUMMARY_MODEL, times: 1, action: { kind: 'hold', gate: SUMMARY_GATE } }]);
  const handle = temporal.client.workflow.getHandle(conversationWorkflowId(tenantId, conversationId));
  const history = async () => (await historyAfterTurns(handle)).events ?? [];
  for (let i = 1; i <= 3; i++) {
    // The third turn crosses the threshold (6 messages > 4): a compaction starts, held back by the summary model.
    await memoir.sendMessage(tenantId, conversationId, { content: `Turn ${i}: I grow tomatoes.`, userId: 'u' });
  }
  expect(scheduled(await history(), 'compactHistory')).toHaveLength(1);

  // Quiet for 3 s: the idle upkeep asks for a forced fold (pending: the compaction runs) and extracts facts.
  expect(await waitUntil(async () => scheduled(await history(), 'extractFacts').length > 0, 30_000)).toBe(true);
  // The user is back before the compaction ends.
  await memoir.sendMessage(tenantId, conversationId, { content: 'Turn 4: and basil.' });
  expect(scheduled(await history(), 'compactHistory')).toHaveLength(1); // still the first one, held

  // The compaction ends; its second pass folds only what the thresholds say, not the whole window.
  await stack.offline.release(SUMMARY_GATE);
  expect(await waitUntil(async () => scheduled(await history(), 'compactHistory').length > 1, 30_000)).toBe(true);
  const passes = scheduled(await history(), 'compactHistory').map(inputOf);
  expect(passes.map((p) => p.force)).toEqual([false, false]);
});
