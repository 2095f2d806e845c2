/**
 * Memory upkeep is exactly-once in what it accounts: an attempt that committed its summary or facts and then lost
 * its result (the worker killed, the server restarted) is followed by a retry that reports that attempt's call —
 * no second model call, no second version, the tokens counted once — so workflow totals equal `llm_calls`.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { activityDeps } from '../../src/runtime/worker';
import { fullUsage } from '../../workflows/contract';
import { startStack, uniqueId, type Stack } from '../helpers/stack';

let stack: Stack;
beforeAll(async () => {
  // Thresholds out of reach: only this test's activity calls compact or extract.
  stack = await startStack({
    api: false,
    env: { MEMOIR_COMPACT_AFTER_MESSAGES: '1000', MEMOIR_FACTS_EVERY: '1000', MEMOIR_RECENT_MESSAGES: '2' },
  });
});
afterAll(() => stack?.stop());

/** Runs `fn` as attempt `n` of the scheduled activity `activityId` (same workflow run every time). */
function attempt(activityId: string, n: number) {
  const env = new MockActivityEnvironment({
    activityId,
    attempt: n,
    workflowExecution: { workflowId: 'upkeep-retry', runId: 'run-upkeep-retry' },
  });
  return { run: <A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> => env.run(fn, input) };
}

async function conversationWithTurns(turns: number): Promise<{ tenantId: string; conversationId: string }> {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('upkeep');
  for (let i = 1; i <= turns; i++) {
    await stack.serving.services.memoir.sendMessage(tenantId, conversationId, {
      content: `Turn ${i}: my boat is called Vela number ${i}.`,
      userId: 'ada',
    });
  }
  return { tenantId, conversationId };
}

const modelCalls = async () => (await stack.offline.requests()).length;

it('a retried compaction reports the committed summary instead of writing another', async () => {
  const activities = createActivities(activityDeps(stack.serving.services));
  const compactHistory = activities.compactHistory.bind(activities);
  const scope = await conversationWithTurns(4);
  const input = { ...scope, keepRecent: 2, afterMessages: 1000, afterTokens: 1_000_000, force: true, turn: 4 };

  const first = await attempt('c1', 1).run(compactHistory, input);
  // A forced (idle) fold folds the whole window, recent messages included.
  expect(first).toMatchObject({ compacted: true, version: 1, remainingMessages: 0 });
  expect(first.usage.inputTokens).toBeGreaterThan(0);
  const callsAfterFirst = await modelCalls();

  // Attempt 2 of the same activity: the first's result never reached the workflow.
  const retried = await attempt('c1', 2).run(compactHistory, input);
  expect(retried).toEqual(first);
  expect(await modelCalls()).toBe(callsAfterFirst);
  expect((await stack.serving.services.summaries.latest(scope.tenantId, scope.conversationId))?.version).toBe(1);

  // Another activity (a later pass) is not mistaken for a retry: nothing is due, nothing is reported.
  const later = await attempt('c2', 1).run(compactHistory, input);
  // Nothing to report: the recorded usage leaves out its zero counts (the workflow fills them back).
  expect(later).toMatchObject({ compacted: false, version: 1, usage: {} });
  expect(fullUsage(later.usage)).toMatchObject({ inputTokens: 0, costUsd: 0 });

  const accepted = await stack.serving.services.llmCalls.acceptedTotals(scope.tenantId, scope.conversationId);
  const replies = await stack.serving.services.memoir.getState(scope.tenantId, scope.conversationId);
  expect(accepted.inputTokens).toBe(replies.totals.inputTokens + fullUsage(first.usage).inputTokens);
});

it('a retried fact extraction reports the merged extraction instead of extracting again', async () => {
  const activities = createActivities(activityDeps(stack.serving.services));
  const extractFacts = activities.extractFacts.bind(activities);
  const scope = await conversationWithTurns(2);
  const first = await attempt('f1', 1).run(extractFacts, { ...scope, turn: 2 });
  expect(first.usage.inputTokens).toBeGreaterThan(0);
  const callsAfterFirst = await modelCalls();
  const retried = await attempt('f1', 2).run(extractFacts, { ...scope, turn: 2 });
  expect(retried.usage).toEqual(first.usage);
  expect(await modelCalls()).toBe(callsAfterFirst);
  // Not asked to index: it says nothing of indexing (a workflow that asked, on an older worker, indexes separately).
  expect(first).not.toHaveProperty('indexed');
});

it('indexes the conversation in the fact extraction when asked, and says so', async () => {
  const { services } = stack.serving;
  const activities = createActivities(activityDeps(services));
  const extractFacts = activities.extractFacts.bind(activities);
  const { tenantId, conversationId } = await conversationWithTurns(2);
  // The workflow indexes after every turn here (2 recent messages): once it is done, nothing is left indexed.
  for (let i = 0; i < 300 && (await services.memoir.getState(tenantId, conversationId)).upkeepRunning; i++)
    await new Promise((r) => setTimeout(r, 100));
  const semantic = services.memory.semantic!;
  await semantic.store.deleteConversation(tenantId, conversationId);
  await services.db.query('UPDATE messages SET indexed_at = NULL WHERE tenant_id = $1 AND conversation_id = $2', [
    tenantId,
    conversationId,
  ]);

  const r = await attempt('fi', 1).run(extractFacts, { tenantId, conversationId, turn: 2, index: true });
  expect(r.indexed).toBe(true);
  expect(r.added).toBeGreaterThan(0);
  const messages = await services.memoir.messages(tenantId, conversationId, { limit: 10 });
  const indexed = await semantic.store.indexedSourceIds(tenantId, conversationId);
  // Every message, and every fact this extraction added.
  expect(indexed.size).toBe(messages.length + r.added);
  for (const m of messages) expect(indexed).toContain(m.messageId);
  const left = await services.db.query(
    `SELECT 1 FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND indexed_at IS NULL
     UNION ALL SELECT 1 FROM facts WHERE tenant_id = $1 AND conversation_id = $2 AND indexed_at IS NULL`,
    [tenantId, conversationId],
  );
  expect(left).toEqual([]);
});

it('indexing catches up on facts whose indexing failed when they were extracted', async () => {
  const { services } = stack.serving;
  const activities = createActivities(activityDeps(services));
  const extractFacts = activities.extractFacts.bind(activities);
  const indexMessages = activities.indexMessages.bind(activities);
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('fact-index');
  await services.memoir.sendMessage(tenantId, conversationId, { content: 'My name is Ada.', userId: 'ada' });
  const extracted = await attempt('fx', 1).run(extractFacts, { tenantId, conversationId, turn: 1 });
  expect(extracted.added).toBeGreaterThan(0);

  // As if the semantic store had been down when they were extracted: nothing of them in it, none marked.
  const semantic = services.memory.semantic!;
  await semantic.store.deleteConversation(tenantId, conversationId);
  await services.db.query('UPDATE facts SET indexed_at = NULL WHERE tenant_id = $1 AND conversation_id = $2', [
    tenantId,
    conversationId,
  ]);
  const factHits = async () =>
    (await semantic.recall({ tenantId, conversationId, text: 'name Ada', limit: 10 })).filter(
      (h) => h.record.kind === 'fact',
    );
  expect(await factHits()).toEqual([]);

  await attempt('ix', 1).run(indexMessages, { tenantId, conversationId });
  expect((await factHits()).length).toBe(extracted.added);
  const left = await services.db.query(
    'SELECT 1 FROM facts WHERE tenant_id = $1 AND conversation_id = $2 AND indexed_at IS NULL',
    [tenantId, conversationId],
  );
  expect(left).toEqual([]);
});
