/**
 * `MEMOIR_MODEL_CALL=local` (patch `model-call-local`): a turn without tools calls the model as a local activity
 * inside the workflow task that accepted the message. One workflow task per turn and no activity task; a worker
 * killed mid-call leaves the turn to the next worker, which answers it exactly once. A call that outlasts 1.5 s is
 * handed over to an activity (test/runtime/model-call-handover.test.ts).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { StoredReply } from '../../activities/generate-reply';
import { activityDeps } from '../../src/runtime/worker';
import { conversationWorkflowId } from '../../workflows/contract';
import { LOCAL_MODEL_CALL_PATCH } from '../../workflows/model-chain';
import { startStack, uniqueId, type Stack } from '../helpers/stack';
import { useKillableWorkerStack } from '../helpers/killable-worker-stack';
import { eventsOf, lastTurn, type HistoryEvent } from '../helpers/turn-history';
import { expectTwoTurnsStoredOnce } from '../helpers/two-turns';

const LOCAL = { MEMOIR_MODEL_CALL: 'local', MEMOIR_FACTS_EVERY: '1000', MEMOIR_COMPACT_AFTER_MESSAGES: '1000' };

const activityNames = (events: HistoryEvent[]) =>
  events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
const patchMarkers = (events: HistoryEvent[]) =>
  events.filter(
    (e) =>
      e.markerRecordedEventAttributes?.markerName === 'core_patch' &&
      JSON.stringify(e.markerRecordedEventAttributes.details).length > 0 &&
      Object.values(e.markerRecordedEventAttributes.details ?? {}).some((p) =>
        (p.payloads ?? []).some((x) =>
          Buffer.from(x.data ?? [])
            .toString()
            .includes(LOCAL_MODEL_CALL_PATCH),
        ),
      ),
  );

describe('the model call in the workflow task', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false, env: LOCAL });
  });
  afterAll(() => stack?.stop());

  it('answers a turn in one workflow task, without an activity task', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('local');
    const { memoir, llmCalls } = stack.serving.services;
    const first = await memoir.sendMessage(tenantId, conversationId, { content: 'My boat is the Vela.', userId: 'u' });
    const second = await memoir.sendMessage(tenantId, conversationId, { content: 'What is my boat called?' });

    const events = await eventsOf(stack, tenantId, conversationId);
    expect(activityNames(events)).not.toContain('generateReply');
    expect(patchMarkers(events)).toHaveLength(1);
    // Accepted, the call's marker, completed: the workflow task that accepted the message also answers it.
    const turn = lastTurn(events);
    expect(turn.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(0);
    expect(turn.filter((e) => e.markerRecordedEventAttributes)).toHaveLength(1);

    await expectTwoTurnsStoredOnce({ memoir, llmCalls }, tenantId, conversationId, first, second);
  });

  it('falls back to the next model inside the workflow task', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('fallback');
    const { memoir } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I climb.', userId: 'u' });
    // The primary cannot serve us (404: the chain moves on at once); the fallback answers.
    await stack.offline.script([{ action: { kind: 'error', status: 404 }, model: 'claude-sonnet-5-5' }]);
    const answered = await memoir.sendMessage(tenantId, conversationId, { content: 'Where do I climb?' });
    await stack.offline.reset();
    expect(answered.reply).toMatchObject({ model: 'claude-haiku-5-5', degraded: false });
    const turn = lastTurn(await eventsOf(stack, tenantId, conversationId));
    expect(turn.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(2);
    expect(activityNames(turn)).not.toContain('generateReply');
  });

  it('a call run again after its workflow task was lost answers with the turn it stored, not as a repeat', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('rerun');
    const { memoir } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I row.', userId: 'u' });
    const activities = createActivities(activityDeps(stack.serving.services));
    // A local activity run again by the next workflow task starts over at attempt 1, with the same activity id.
    const call = (activityId: string, turn: number): Promise<StoredReply> =>
      new MockActivityEnvironment({
        activityId,
        attempt: 1,
        workflowExecution: { workflowId: conversationWorkflowId(tenantId, conversationId), runId: 'run-rerun' },
      }).run((i: Parameters<typeof activities.generateReply>[0]) => activities.generateReply(i), {
        messageId,
        turn,
        model: 'claude-sonnet-5-5',
        content: 'Where do I row?',
        persist: {},
        assemble: 'first' as const,
      });
    const messageId = uniqueId('m');
    const answered = await call('3', 2);
    const requests = (await stack.offline.requests()).length;
    const again = await call('3', 2);
    expect(again).toMatchObject({ messageId: answered.messageId, content: answered.content });
    expect(again.repeated).toBeUndefined();
    expect((await stack.offline.requests()).length).toBe(requests);
    // The chain's first call run again after a fallback call (another id) stored this turn: still this turn's answer.
    expect((await call('2', 2)).repeated).toBeUndefined();
    // The same message in a later turn (another call) is still a repeated message.
    expect(await call('7', 3)).toMatchObject({ messageId: answered.messageId, repeated: true });
  });

  it("a call run again at attempt 1 writes its own ledger row beside the lost execution's", async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('ledger');
    const { memoir, db } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I swim.', userId: 'u' });
    const activities = createActivities(activityDeps(stack.serving.services));
    const messageId = uniqueId('m');
    const run = () =>
      new MockActivityEnvironment({
        activityId: '3',
        attempt: 1,
        isLocal: true,
        workflowExecution: { workflowId: conversationWorkflowId(tenantId, conversationId), runId: 'run-ledger' },
      }).run((i: Parameters<typeof activities.generateReply>[0]) => activities.generateReply(i), {
        messageId,
        turn: 2,
        model: 'claude-sonnet-5-5',
        content: 'Where do I swim?',
        persist: {},
        assemble: 'first' as const,
      });
    // The first execution's call fails (its row is written), then its workflow task is lost: the next one runs the
    // call again from attempt 1.
    await stack.offline.script([{ action: { kind: 'error', status: 500 }, times: 1 }]);
    await expect(run()).rejects.toBeDefined();
    await run();
    const rows = await db.query<{ outcome: string; accepted: boolean; input_tokens: number }>(
      `SELECT outcome, accepted, input_tokens FROM llm_calls
        WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3 ORDER BY created_at`,
      [tenantId, conversationId, messageId],
    );
    expect(rows).toEqual([
      expect.objectContaining({ outcome: expect.not.stringMatching(/^ok$/), accepted: false }),
      expect.objectContaining({ outcome: 'ok', accepted: true }),
    ]);
    expect(rows[1]!.input_tokens).toBeGreaterThan(0);
  });
});

describe('a refusal in the workflow task', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false, env: { ...LOCAL, MEMOIR_DAILY_BUDGET_USD: '0.000001' } });
  });
  afterAll(() => stack?.stop());

  it('fails the turn with its own type: no fallback model, no degraded reply', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('spender');
    const { memoir } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'first', userId: 'u' });
    await stack.offline.reset();
    await expect(memoir.sendMessage(tenantId, conversationId, { content: 'second' })).rejects.toMatchObject({
      code: 'budget_exceeded',
      status: 402,
    });
    expect(await stack.offline.requests()).toHaveLength(0);
    expect(await memoir.messages(tenantId, conversationId, { limit: 10 })).toHaveLength(2);
    expect(activityNames(await eventsOf(stack, tenantId, conversationId))).not.toContain('generateReply');
  });
});

describe('a worker killed during the local model call', () => {
  const killable = useKillableWorkerStack(LOCAL);

  it('the next worker answers the turn exactly once, and the ledger reconciles', async () => {
    const { stack, model, worker } = killable;
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('killed');
    const { memoir, llmCalls } = stack.serving.services;
    const first = await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I sail.', userId: 'u' });
    // Long enough that the kill lands mid-call (the call is open when the worker dies).
    model.script([{ action: { kind: 'delay', ms: 1_500 }, lastUserContains: 'killed' }]);
    const repliesBefore = model.started('reply');
    const sent = memoir.sendMessage(tenantId, conversationId, { content: 'Will I be killed?' });
    await until(() => model.inFlight('reply') > 0);
    await worker.kill();
    await worker.start();
    const second = await sent;

    expect(second.reply.degraded).toBe(false);
    // The dead worker's call, and the next worker's from the start.
    expect(model.started('reply') - repliesBefore).toBe(2);
    await expectTwoTurnsStoredOnce({ memoir, llmCalls }, tenantId, conversationId, first, second);
  }, 120_000);
});

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the model call');
    await new Promise((r) => setTimeout(r, 20));
  }
}
