/**
 * A message answered in an earlier run, sent again after continue-as-new (update-id de-duplication is gone), whose
 * one-activity turn (patch `model-call-loads-context`) fails its first attempt before the context step's check: the
 * retry still answers it as a repeated message (not counted again) or refuses it with other content.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { StoredReply } from '../../activities/generate-reply';
import { activityDeps } from '../../src/runtime/worker';
import { conversationWorkflowId, sendMessageUpdate, type ConversationState } from '../../workflows/contract';
import { startStack, uniqueId, type Stack } from '../helpers/stack';
import { lockWaiters } from '../helpers/lock-waiters';

let stack: Stack;
// A stack per test: a fault of one test leaves the next its worker's database pool as new. A run per turn: the
// message sent again reaches a run that never saw its update id.
beforeEach(async () => {
  stack = await startStack({ api: false, env: { MEMOIR_FACTS_EVERY: '1000', MEMOIR_TURNS_PER_RUN: '1' } });
});
afterEach(() => stack?.stop());

/** The state once memory upkeep has finished (its calls count in the totals too). */
async function settled(tenantId: string, conversationId: string): Promise<ConversationState> {
  let state: ConversationState | undefined;
  await vi.waitFor(
    async () => {
      state = await stack.serving.services.memoir.getState(tenantId, conversationId);
      expect(state.upkeepRunning).toBe(false);
    },
    { timeout: 30_000, interval: 100 },
  );
  return state!;
}

/**
 * Sends `content` under `messageId` as a raw Temporal update, while its model call's first attempt cannot read the
 * messages table: another transaction holds it exclusively and every query waiting on it has its backend
 * terminated (as when PostgreSQL restarts), until Temporal has scheduled the second attempt.
 */
async function sendWithFirstAttemptFailing(
  tenantId: string,
  conversationId: string,
  messageId: string,
  content: string,
) {
  const handle = stack.serving.services.memoir.handle(tenantId, conversationId);
  const holder = new pg.Client({ connectionString: stack.databaseUrl! });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
  // The id in the arguments, under an update id of its own: a run that saw an update with this id would answer it
  // from its de-duplication, without a turn.
  const sent = handle.executeUpdate(sendMessageUpdate, { args: [{ content, messageId }], updateId: uniqueId('u') });
  sent.catch(() => undefined); // awaited by the caller
  try {
    await vi.waitFor(
      async () => {
        for (const pid of await lockWaiters(holder)) await holder.query('SELECT pg_terminate_backend($1)', [pid]);
        const { raw } = await handle.describe();
        expect(raw.pendingActivities?.[0]?.attempt ?? 0).toBeGreaterThan(1);
      },
      { timeout: 20_000, interval: 50 },
    );
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  return sent;
}

/** A conversation of two turns, settled; the first one's messageId and reply, for sending it again. */
async function answeredTwice(prefix: string, content: string) {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId(prefix);
  const { memoir } = stack.serving.services;
  const messageId = uniqueId('m');
  const first = await memoir.sendMessage(tenantId, conversationId, { content, messageId, userId: 'u' });
  await memoir.sendMessage(tenantId, conversationId, { content: 'I fly it on Sundays.' });
  const before = await settled(tenantId, conversationId);
  return { tenantId, conversationId, messageId, first, before, requests: (await stack.offline.requests()).length };
}

it('a retry after a first attempt that failed before its check answers a repeated message as repeated', async () => {
  const { memoir, llmCalls } = stack.serving.services;
  const content = 'My kite is red.';
  const { tenantId, conversationId, messageId, first, before, requests } = await answeredTwice('repeat', content);

  const again = await sendWithFirstAttemptFailing(tenantId, conversationId, messageId, content);
  expect(again).toMatchObject({ messageId, reply: first.reply });
  // Nothing new happened: no model call, no new turn, no usage counted twice.
  expect((await stack.offline.requests()).length).toBe(requests);
  const after = await settled(tenantId, conversationId);
  expect(after.turnCount).toBe(before.turnCount);
  expect(after.totals).toEqual(before.totals);
  const accepted = await llmCalls.acceptedTotals(tenantId, conversationId);
  expect(accepted.inputTokens).toBe(after.totals.inputTokens);
  expect(accepted.costUsd).toBeCloseTo(after.totals.costUsd, 9);
  expect(await memoir.messages(tenantId, conversationId, { limit: 10 })).toHaveLength(4);
});

it('a retry after a first attempt that failed before its check refuses another message under a used id', async () => {
  const { memoir } = stack.serving.services;
  const { tenantId, conversationId, messageId, before } = await answeredTwice('conflict', 'My kite is red.');
  const refused = await sendWithFirstAttemptFailing(tenantId, conversationId, messageId, 'My kite is blue.').catch(
    (e: unknown) => e,
  );
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((refused as WorkflowUpdateFailedError).cause).toBeInstanceOf(ApplicationFailure);
  expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('MessageIdConflict');
  expect(await memoir.messages(tenantId, conversationId, { limit: 10 })).toHaveLength(4);
  expect((await settled(tenantId, conversationId)).totals).toEqual(before.totals);
});

it('a retry that finds its own turn stored (its manifest beside it) is not taken for a repeated message', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('own-turn');
  const { memoir } = stack.serving.services;
  const messageId = uniqueId('m');
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I swim.', messageId, userId: 'u' });
  const activities = createActivities(activityDeps(stack.serving.services));
  const env = (attempt: number) =>
    new MockActivityEnvironment({
      activityId: 'reply-1',
      attempt,
      workflowExecution: { workflowId: conversationWorkflowId(tenantId, conversationId), runId: uniqueId('run') },
    });
  const call = {
    messageId: uniqueId('m'),
    turn: 2,
    model: 'claude-sonnet-5-5',
    content: 'Where do I swim?',
    persist: {},
    assemble: 'again' as const, // a fallback call: never the first attempt of the chain's first call
  };
  const generateReply = (n: number, input = call): Promise<StoredReply> =>
    env(n).run((i: typeof call) => activities.generateReply(i), input);
  const answered = await generateReply(1);
  expect(answered.repeated).toBeUndefined();
  const retried = await generateReply(2);
  expect(retried).toMatchObject({ messageId: answered.messageId, content: answered.content });
  expect(retried.repeated).toBeUndefined();
  // The first turn's messageId at turn 3, with no manifest of turn 3: an earlier turn answered it.
  const repeated = await generateReply(2, { ...call, messageId, content: 'Hello, I swim.', turn: 3 });
  expect(repeated).toMatchObject({ repeated: true });
  await expect(generateReply(2, { ...call, messageId, content: 'Hello, I dive.', turn: 3 })).rejects.toMatchObject({
    type: 'MessageIdConflict',
  });
});
