/**
 * The model call stores the turn it answers (patch `model-call-persists-turn`): no persistTurn step in history,
 * and still exactly once — an attempt retried after its write answers from PostgreSQL without calling the model.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { createActivities } from '../../activities';
import type { StoredReply } from '../../activities/generate-reply';
import { activityDeps } from '../../src/runtime/worker';
import { conversationWorkflowId, type TurnResult } from '../../workflows/contract';
import { startStack, uniqueId, type Stack } from '../helpers/stack';
import { expectTwoTurnsStoredOnce } from '../helpers/two-turns';
import { lockWaiters } from '../helpers/lock-waiters';
import { historyAfterTurns } from '../helpers/turn-history';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ api: false, env: { MEMOIR_FACTS_EVERY: '1000' } });
});
afterAll(() => stack?.stop());

const decoded = (p: { data?: Uint8Array | null }) => Buffer.from(p.data ?? []).toString();

/**
 * A conversation with one answered turn, and the context of its second turn loaded (old path: `loadContext`) in an
 * activity environment of `runId`: the test then runs `generateReply` for that turn itself.
 */
async function secondTurnLoaded(prefix: string, hello: string, question: string, runId = `run-${prefix}`) {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId(prefix);
  await stack.serving.services.memoir.sendMessage(tenantId, conversationId, { content: hello, userId: 'u' });
  const activities = createActivities(activityDeps(stack.serving.services));
  const env = new MockActivityEnvironment({
    activityId: `reply-${prefix}`,
    workflowExecution: { workflowId: conversationWorkflowId(tenantId, conversationId), runId },
  });
  const messageId = uniqueId('m');
  const load = { tenantId, conversationId, messageId, content: question, turn: 2 };
  await env.run(activities.loadContext.bind(activities), load);
  return { tenantId, conversationId, activities, env, messageId };
}

/** Another transaction holding the conversation's row (`lock`: the row lock it takes), until it rolls back. */
async function holdConversationRow(tenantId: string, conversationId: string, lock: 'UPDATE' | 'NO KEY UPDATE') {
  const holder = new pg.Client({ connectionString: stack.databaseUrl! });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query(`SELECT 1 FROM conversations WHERE tenant_id = $1 AND conversation_id = $2 FOR ${lock}`, [
    tenantId,
    conversationId,
  ]);
  return holder;
}

it('a turn is one model call: no local step, no scope in the call, one row each', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('stored');
  const { memoir, llmCalls, temporal } = stack.serving.services;
  const first = await memoir.sendMessage(tenantId, conversationId, { content: 'My boat is the Vela.', userId: 'u' });
  const second = await memoir.sendMessage(tenantId, conversationId, { content: 'What is my boat called?' });

  const history = await historyAfterTurns(
    temporal.client.workflow.getHandle(conversationWorkflowId(tenantId, conversationId)),
  );
  const events = history.events ?? [];
  const localSteps = events.flatMap((e) =>
    e.markerRecordedEventAttributes?.markerName === 'core_local_activity' ? [e] : [],
  );
  const stepNames = localSteps.map((e) => decoded(e.markerRecordedEventAttributes!.details!.data!.payloads![0]!));
  expect(stepNames.filter((d) => d.includes('"persistTurn"'))).toEqual([]);
  expect(stepNames.filter((d) => d.includes('"loadContext"'))).toEqual([]);
  const calls = events.flatMap((e) =>
    e.activityTaskScheduledEventAttributes?.activityType?.name === 'generateReply'
      ? [decoded(e.activityTaskScheduledEventAttributes.input!.payloads![0]!)]
      : [],
  );
  expect(calls).toHaveLength(2);
  // The workflow id names the scope; the message goes in once (the call assembles the context from it).
  for (const call of calls) expect(call).not.toContain(tenantId);
  expect(calls.map((c) => JSON.parse(c) as { assemble?: string; content?: string })).toEqual([
    expect.objectContaining({ assemble: 'first', content: 'My boat is the Vela.' }),
    expect.objectContaining({ assemble: 'first', content: 'What is my boat called?' }),
  ]);

  const { stored, state } = await expectTwoTurnsStoredOnce(
    { memoir, llmCalls },
    tenantId,
    conversationId,
    first,
    second,
  );
  expect(stored[3]!.content).toBe(second.reply.content);
  expect(state.lastContext?.tokens).toBeGreaterThan(0);
});

it('an attempt retried after the write answers with the stored reply, without calling the model again', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('retried');
  const { memoir, conversations } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I sail.', userId: 'u' });
  const activities = createActivities(activityDeps(stack.serving.services));
  const env = (attempt: number) =>
    new MockActivityEnvironment({
      activityId: 'reply-1',
      attempt,
      workflowExecution: { workflowId: conversationWorkflowId(tenantId, conversationId), runId: 'run-retried' },
    });
  const messageId = uniqueId('m');
  const content = 'Where do I sail?';
  const loaded = await env(1).run(activities.loadContext.bind(activities), {
    tenantId,
    conversationId,
    messageId,
    content,
    turn: 2,
  });
  expect(loaded).toMatchObject({ kind: 'ready' });
  const call = { messageId, turn: 2, model: 'claude-sonnet-5-5', persist: {} };
  const generateReply = (n: number): Promise<StoredReply> =>
    env(n).run((input: typeof call) => activities.generateReply(input), call);

  const answered = await generateReply(1);
  expect(answered.messageId).toBeDefined();
  const requests = (await stack.offline.requests()).length;
  // The first attempt's result was lost (its worker died after the write): the retry finds the turn stored.
  const retried = await generateReply(2);
  expect(retried).toMatchObject({ messageId: answered.messageId, content: answered.content, attempt: 2 });
  expect((await stack.offline.requests()).length).toBe(requests);

  const turn = await conversations.findTurn(tenantId, conversationId, messageId);
  expect(turn?.reply).toMatchObject({ messageId: answered.messageId, content: answered.content });
  const stored = await memoir.messages(tenantId, conversationId, { limit: 10 });
  expect(stored.map((m) => m.content)).toEqual(['Hello, I sail.', expect.any(String), content, answered.content]);

  // Had the chain given up after that write (its deadline passed), the workflow would store a degraded reply: the
  // turn PostgreSQL keeps is the answer, not the degraded one.
  const degraded = {
    tenantId,
    conversationId,
    turn: 2,
    steps: [],
    userMessage: { messageId, content },
    reply: { messageId: uniqueId('r'), content: 'sorry', model: 'none', degraded: true },
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 },
  };
  const persist = (input: typeof degraded & { answerIfStored?: true }): Promise<{ stored?: TurnResult }> =>
    env(1).run((i: typeof input) => activities.persistTurn(i), input);
  const kept = await persist({ ...degraded, answerIfStored: true });
  expect(kept.stored?.reply).toMatchObject({ messageId: answered.messageId, content: answered.content });
  expect((await persist(degraded)).stored).toBeUndefined();
  expect(await memoir.messages(tenantId, conversationId, { limit: 10 })).toHaveLength(4);
});

it('heartbeats while it stores the turn, not only while the model answers', async () => {
  const { tenantId, conversationId, activities, env, messageId } = await secondTurnLoaded(
    'beat',
    'Hello, I row.',
    'Where do I row?',
    'run-beating',
  );
  let beats = 0;
  env.on('heartbeat', () => beats++);

  // A slow store: another transaction holds the conversation's row, so the ledger row and the turn wait for it.
  const holder = await holdConversationRow(tenantId, conversationId, 'UPDATE');
  const call = { messageId, turn: 2, model: 'claude-sonnet-5-5', persist: {} };
  const reply: Promise<StoredReply> = env.run((input: typeof call) => activities.generateReply(input), call);
  try {
    const waiting = async () => (await lockWaiters(holder)).length;
    await vi.waitFor(async () => expect(await waiting()).toBeGreaterThan(0), { timeout: 20_000, interval: 50 });
    const before = beats;
    // Past the model call, blocked on the store: the heartbeat timeout (3 s) must not see silence.
    await vi.waitFor(() => expect(beats).toBeGreaterThan(before + 1), { timeout: 5_000, interval: 50 });
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  expect((await reply).messageId).toBeDefined();
});

it('a store that fails after the model answered is finished by the workflow: the model is called once', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('store-fails');
  const { memoir, llmCalls, db } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I fish.', userId: 'u' });

  // Holds the conversation's row against the turn's write (FOR UPDATE) but not against the ledger row's foreign key
  // check (FOR KEY SHARE): the model answers, its ledger row commits, and the store then waits on the lock.
  const holder = await holdConversationRow(tenantId, conversationId, 'NO KEY UPDATE');
  const marker = uniqueId('cod');
  const sent = memoir.sendMessage(tenantId, conversationId, { content: `Where do I fish for ${marker}?` });
  try {
    // The store's statement, waiting for the holder's transaction to end (its text may not show yet: a pipelined
    // statement still reads as the connection's last one).
    const blockedStore = () => lockWaiters(holder, 'transactionid');
    await vi.waitFor(async () => expect(await blockedStore()).toHaveLength(1), { timeout: 20_000, interval: 50 });
    // The connection drops under the store (as when PostgreSQL restarts): a real failure after a paid answer.
    const [pid] = await blockedStore();
    await holder.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  const answered = await sent;

  const asked = (await stack.offline.requests()).filter((r) => JSON.stringify(r.body).includes(marker));
  expect(asked).toHaveLength(1);
  const stored = await memoir.messages(tenantId, conversationId, { limit: 10 });
  expect(stored.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  expect(stored[3]).toMatchObject({ messageId: answered.reply.messageId, content: answered.reply.content });
  const rows = await db.query<{ accepted: boolean }>(
    `SELECT accepted FROM llm_calls WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3`,
    [tenantId, conversationId, answered.messageId],
  );
  expect(rows).toEqual([{ accepted: true }]);
  const state = await memoir.getState(tenantId, conversationId);
  const accepted = await llmCalls.acceptedTotals(tenantId, conversationId);
  expect(accepted.calls).toBe(2);
  expect(accepted.costUsd).toBeCloseTo(state.totals.costUsd, 9);
  expect(accepted.inputTokens).toBe(state.totals.inputTokens);
});

it('a model call that finds the turn stored degraded answers with it as degraded', async () => {
  const content = 'What do I knit?';
  const { tenantId, conversationId, activities, env, messageId } = await secondTurnLoaded(
    'found-degraded',
    'Hello, I knit.',
    content,
  );
  // An earlier run (before a reset, say) stored this turn with a degraded reply: no model answered it.
  const degradedReply = { messageId: uniqueId('r'), content: 'sorry, later', model: 'none', degraded: true };
  await env.run((i: Parameters<typeof activities.persistTurn>[0]) => activities.persistTurn(i), {
    tenantId,
    conversationId,
    turn: 2,
    steps: [],
    userMessage: { messageId, content },
    reply: degradedReply,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 },
  });
  const requests = (await stack.offline.requests()).length;

  const call = { messageId, turn: 2, model: 'claude-sonnet-5-5', persist: {} };
  const found: StoredReply = await env.run((input: typeof call) => activities.generateReply(input), call);
  expect(found).toMatchObject({ messageId: degradedReply.messageId, content: degradedReply.content, degraded: true });
  expect((await stack.offline.requests()).length).toBe(requests);
});

it('keeps the ledger row of a paid call when storing its turn fails (the row rides in the turn’s statement)', async () => {
  const runId = uniqueId('run-dropped');
  const { tenantId, conversationId, activities, env, messageId } = await secondTurnLoaded(
    'dropped',
    'Hello, I dive.',
    'Where do I dive?',
    runId,
  );
  const { memoir } = stack.serving.services;

  // The store waits on the conversation's row; its connection is then dropped, so the statement that carries the
  // ledger row fails and nothing of it commits.
  const holder = await holdConversationRow(tenantId, conversationId, 'UPDATE');
  const call = { messageId, turn: 2, model: 'claude-sonnet-5-5', persist: {} };
  const reply = env
    .run((input: typeof call) => activities.generateReply(input), call)
    .then(
      (r) => ((r as StoredReply).messageId ? 'stored' : 'unstored'),
      (err: Error) => err.message,
    );
  try {
    const waiter = async () => (await lockWaiters(holder))[0];
    let pid: number | undefined;
    await vi.waitFor(async () => expect((pid = await waiter())).toBeDefined(), { timeout: 20_000, interval: 50 });
    await holder.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  // The reply comes back unstored (the workflow stores it), and nothing of the failed statement committed.
  expect(await reply).toBe('unstored');
  expect(await memoir.messages(tenantId, conversationId, { limit: 10 })).toHaveLength(2);
  // The model answered and was paid: its row is in the ledger, not accepted (no turn kept its reply).
  const ledger = await stack.serving.services.llmCalls.forMessage(tenantId, conversationId, messageId);
  expect(ledger.map((r) => [r.callId, r.outcome, r.accepted])).toEqual([[`${runId}/reply-dropped/1`, 'ok', false]]);
});

it('a paid reply whose turn and ledger row both fail to write is stored with its row by the workflow', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('ledger-left');
  const { memoir, llmCalls, db } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I surf.', userId: 'u' });

  // The model call waits at a gate until the ledger is held (after the context step's writes).
  const gate = uniqueId('gate');
  await stack.offline.script([{ action: { kind: 'hold', gate } }]);
  const marker = uniqueId('wave');
  const messageId = uniqueId('m');
  const sent = memoir.sendMessage(tenantId, conversationId, { content: `Where do I surf ${marker}?`, messageId });
  sent.catch(() => undefined); // awaited below
  await vi.waitFor(
    async () =>
      expect(
        await db.query('SELECT 1 FROM context_manifests WHERE conversation_id = $1 AND message_id = $2', [
          conversationId,
          messageId,
        ]),
      ).toHaveLength(1),
    { timeout: 20_000, interval: 50 },
  );
  // Another transaction keeps out writes of the ledger (reads go on): both writes after the answer wait on it.
  const holder = new pg.Client({ connectionString: stack.databaseUrl! });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE llm_calls IN SHARE MODE');
  try {
    await stack.offline.release(gate);
    // The database goes away under both writes that follow the answer: the turn's statement (which carries the
    // ledger row), then the ledger row alone. Each is cut off as it waits.
    const cut = new Set<number>();
    await vi.waitFor(
      async () => {
        for (const pid of await lockWaiters(holder)) {
          if (cut.has(pid)) continue; // ending already
          await holder.query('SELECT pg_terminate_backend($1)', [pid]);
          cut.add(pid);
        }
        expect(cut.size).toBeGreaterThanOrEqual(2);
      },
      { timeout: 20_000, interval: 20 },
    );
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  const answered = await sent;
  // The database back: one model call, the turn stored once, and the paid call's one row, accepted with it.
  const asked = (await stack.offline.requests()).filter((r) => JSON.stringify(r.body).includes(marker));
  expect(asked).toHaveLength(1);
  await stack.offline.reset();
  const stored = await memoir.messages(tenantId, conversationId, { limit: 10 });
  expect(stored.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  expect(stored[3]).toMatchObject({ messageId: answered.reply.messageId, content: answered.reply.content });
  const ledger = await llmCalls.forMessage(tenantId, conversationId, messageId);
  expect(ledger.map((r) => [r.outcome, r.accepted])).toEqual([['ok', true]]);
  const state = await memoir.getState(tenantId, conversationId);
  const accepted = await llmCalls.acceptedTotals(tenantId, conversationId);
  expect(accepted.calls).toBe(2);
  expect(accepted.costUsd).toBeCloseTo(state.totals.costUsd, 9);
  expect(accepted.inputTokens).toBe(state.totals.inputTokens);
  // Both writes failed: the call handed its unwritten row to the workflow with the unstored reply.
  const history = await historyAfterTurns(
    stack.serving.services.temporal.client.workflow.getHandle(conversationWorkflowId(tenantId, conversationId)),
  );
  const results = (history.events ?? []).flatMap(
    (e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.map(decoded) ?? [],
  );
  expect(results.filter((r) => r.includes('"ledger"'))).toHaveLength(1);
});

it('a context manifest whose write fails while the model answers is written again before the turn is stored', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('manifest-fails');
  const { memoir, db } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I paint.', userId: 'u' });

  // SHARE mode lets the manifest be read but not written: its write waits, and is cut off once.
  const holder = new pg.Client({ connectionString: stack.databaseUrl! });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE context_manifests IN SHARE MODE');
  const sent = memoir.sendMessage(tenantId, conversationId, { content: 'What do I paint?' });
  try {
    const waitingWrite = () => lockWaiters(holder, 'relation');
    await vi.waitFor(async () => expect(await waitingWrite()).toHaveLength(1), { timeout: 20_000, interval: 50 });
    const [cut] = await waitingWrite();
    await holder.query('SELECT pg_terminate_backend($1)', [cut]);
    // The write again, on another connection, before anything was stored.
    await vi.waitFor(async () => expect((await waitingWrite()).filter((pid) => pid !== cut)).toHaveLength(1), {
      timeout: 20_000,
      interval: 50,
    });
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  const answered = await sent;
  const manifests = await db.query<{ turn: number }>(
    `SELECT (manifest->>'turn')::int AS turn FROM context_manifests
      WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3`,
    [tenantId, conversationId, answered.messageId],
  );
  expect(manifests).toEqual([{ turn: 2 }]);
});
