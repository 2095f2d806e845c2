/**
 * `MEMOIR_MODEL_CALL=local`, local first and handed over when long (patch `model-call-handover`): a model call still
 * running after HAND_OVER_AFTER_MS leaves its workflow task and is adopted by a regular generateReply activity on the
 * same worker. No workflow-task heartbeats, one model call; an adopter without the call calls afresh; a worker killed
 * after the hand-over leaves the turn answered exactly once.
 */
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { GenerateReplyCall, StoredReply } from '../../activities/generate-reply';
import { HAND_OVER_AFTER_MS, type HandedOver } from '../../activities/reply-handover';
import { activityDeps } from '../../src/runtime/worker';
import type { StreamEvent } from '../../src/streaming/bus';
import { conversationWorkflowId } from '../../workflows/contract';
import { MODEL_CALL_HANDOVER_PATCH } from '../../workflows/reply-handover';
import { startStack, uniqueId, type Stack } from '../helpers/stack';
import { useKillableWorkerStack } from '../helpers/killable-worker-stack';
import { eventsOf, lastTurn, type HistoryEvent } from '../helpers/turn-history';
import { expectTwoTurnsStoredOnce } from '../helpers/two-turns';

const { EventType } = temporal.api.enums.v1;
const LOCAL = { MEMOIR_MODEL_CALL: 'local', MEMOIR_FACTS_EVERY: '1000', MEMOIR_COMPACT_AFTER_MESSAGES: '1000' };

/**
 * The turn without upkeep (indexing) that ran beside it: other activities' events, and the workflow task an upkeep
 * activity's completion woke.
 */
function withoutUpkeep(turn: HistoryEvent[]): HistoryEvent[] {
  const upkeep = new Set(
    turn
      .filter((e) => e.activityTaskScheduledEventAttributes && scheduledReplies([e]).length === 0)
      .map((e) => String(e.eventId)),
  );
  const scheduledBy = (e: HistoryEvent) =>
    e.activityTaskStartedEventAttributes?.scheduledEventId ?? e.activityTaskCompletedEventAttributes?.scheduledEventId;
  const kept: HistoryEvent[] = [];
  for (let i = 0; i < turn.length; i++) {
    const e = turn[i]!;
    const by = scheduledBy(e);
    if (upkeep.has(String(e.eventId)) || (by !== undefined && by !== null && !isReply(turn, String(by)))) {
      // A completed upkeep activity wakes a workflow task of its own: its three events go with it.
      if (e.activityTaskCompletedEventAttributes && turn[i + 1]?.workflowTaskScheduledEventAttributes) i += 3;
      continue;
    }
    kept.push(e);
  }
  return kept;
}

const isReply = (events: HistoryEvent[], scheduledId: string) =>
  scheduledReplies(events).some((e) => String(e.eventId) === scheduledId);

const scheduledReplies = (events: HistoryEvent[]) =>
  events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'generateReply');
const markerNamed = (events: HistoryEvent[], text: string) =>
  events.filter((e) =>
    Object.values(e.markerRecordedEventAttributes?.details ?? {}).some((p) =>
      (p.payloads ?? []).some((x) =>
        Buffer.from(x.data ?? [])
          .toString()
          .includes(text),
      ),
    ),
  );

type Worker = ReturnType<typeof createActivities>;
type Run = { workflowId: string; runId: string };

/** The local call, as the workflow task runs it (activity 3), expected to be handed over. */
async function handOver(worker: Worker, workflowExecution: Run, call: GenerateReplyCall): Promise<HandedOver> {
  const result: StoredReply | HandedOver = await new MockActivityEnvironment({
    activityId: '3',
    isLocal: true,
    workflowExecution,
  }).run((c: GenerateReplyCall) => worker.replyOrHandOver(c), call);
  if (!('handedOver' in result)) throw new Error('the call was not handed over');
  return result;
}

/** The generateReply activity the workflow schedules after a hand-over (activity 4). */
const adopt = (
  worker: Worker,
  workflowExecution: Run,
  call: GenerateReplyCall,
  marker: HandedOver,
): Promise<StoredReply> =>
  new MockActivityEnvironment({ activityId: '4', workflowExecution }).run(
    (c: GenerateReplyCall) => worker.generateReply(c),
    {
      ...call,
      assemble: 'again' as const,
      adopt: marker.handedOver,
    },
  );

describe('a long local model call handed over to an activity', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false, env: LOCAL });
  });
  afterAll(() => stack?.stop());

  it('keeps a fast reply in one workflow task', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('fast');
    const { memoir } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I paint.', userId: 'u' });
    await memoir.sendMessage(tenantId, conversationId, { content: 'What do I do?' });
    const events = await eventsOf(stack, tenantId, conversationId);
    expect(markerNamed(events, MODEL_CALL_HANDOVER_PATCH)).toHaveLength(1);
    expect(scheduledReplies(events)).toHaveLength(0);
    const turn = lastTurn(events);
    expect(turn.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(0);
  });

  it('hands a long reply over: one activity, no workflow-task heartbeats, the model called once', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('slow');
    const { memoir, llmCalls } = stack.serving.services;
    const first = await memoir.sendMessage(tenantId, conversationId, { content: 'Hello.', userId: 'u' });
    const modelMs = 6_000;
    await stack.offline.script([{ action: { kind: 'delay', ms: modelMs }, lastUserContains: 'take your time' }]);
    const before = (await stack.offline.requests()).length;
    const second = await memoir.sendMessage(tenantId, conversationId, { content: 'Please take your time.' });
    expect(second.reply.degraded).toBe(false);
    expect((await stack.offline.requests()).length - before).toBe(1);

    const turn = withoutUpkeep(lastTurn(await eventsOf(stack, tenantId, conversationId)));
    // Accepted, the local call's marker (a hand-over), the adopting activity, the workflow task its result wakes, the
    // update's completion: the local call did not keep its workflow task open long enough for a heartbeat (3 events).
    expect(turn.map((e) => e.eventType)).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
      EventType.EVENT_TYPE_MARKER_RECORDED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    ]);
    expect(markerNamed(turn, 'handedOver')).toHaveLength(1);
    expect(scheduledReplies(turn)).toHaveLength(1);
    await expectTwoTurnsStoredOnce({ memoir, llmCalls }, tenantId, conversationId, first, second);
  }, 60_000);

  it('streams deltas across the hand-over: the call that publishes them goes on', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('stream');
    const { memoir, streams } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello.', userId: 'u' });
    const messageId = uniqueId('m');
    const channel = { tenantId, conversationId, messageId };
    await streams.listen(channel); // as the API does for a client that asked for a stream
    const text = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
    // Paced so the reply streams for longer than the hand-over time.
    await stack.offline.script([{ action: { kind: 'reply', text }, lastUserContains: 'stream it' }], {
      streamChunkDelayMs: 100,
    });
    const seen: { at: number; event: StreamEvent }[] = [];
    const stop = new AbortController();
    const reading = streams.subscribe(
      channel,
      undefined,
      (r) => seen.push({ at: Date.now(), event: r.event }),
      stop.signal,
    );
    const sentAt = Date.now();
    const turn = await memoir.sendMessage(tenantId, conversationId, { content: 'Please stream it.', messageId });
    await stack.offline.script([], { streamChunkDelayMs: 0 });
    const streamed = () => seen.flatMap(({ event }) => (event.type === 'delta' ? [event.text] : [])).join('');
    await vi.waitFor(() => expect(streamed()).toBe(turn.reply.content), { timeout: 10_000, interval: 50 });
    stop.abort();
    await reading;
    expect(scheduledReplies(await eventsOf(stack, tenantId, conversationId))).toHaveLength(1);
    // One attempt, no restart; text before and after the hand-over.
    expect(seen.filter(({ event }) => event.type === 'attempt').map(({ event }) => event)).toEqual([
      expect.objectContaining({ restart: false }),
    ]);
    const deltas = seen.filter(({ event }) => event.type === 'delta');
    expect(deltas.some(({ at }) => at < sentAt + HAND_OVER_AFTER_MS)).toBe(true);
    expect(deltas.some(({ at }) => at > sentAt + HAND_OVER_AFTER_MS + 500)).toBe(true);
  }, 60_000);

  it('an adopter on a worker without the call calls the model afresh; the turn is stored once', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('orphan');
    const { memoir, db } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I knit.', userId: 'u' });
    // Two worker processes' activities: the call is handed over on one and adopted on the other.
    const here = createActivities(activityDeps(stack.serving.services));
    const elsewhere = createActivities(activityDeps(stack.serving.services));
    const messageId = uniqueId('m');
    const workflowExecution = { workflowId: conversationWorkflowId(tenantId, conversationId), runId: 'run-orphan' };
    const call: GenerateReplyCall = {
      messageId,
      turn: 2,
      model: 'claude-sonnet-5-5',
      content: 'What do I knit, slowly?',
      persist: {},
      assemble: 'first',
    };
    await stack.offline.script([{ action: { kind: 'delay', ms: 2 * HAND_OVER_AFTER_MS }, lastUserContains: 'slowly' }]);
    const marker = await handOver(here, workflowExecution, call);
    expect(marker).toMatchObject({ handedOver: expect.any(String), attempt: 1 });
    const adopted = await adopt(elsewhere, workflowExecution, call, marker);
    // Both calls paid and recorded, one accepted: the one whose reply is the stored turn's.
    const rows = () =>
      db.query<{ outcome: string; accepted: boolean }>(
        `SELECT outcome, accepted FROM llm_calls WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3`,
        [tenantId, conversationId, messageId],
      );
    await vi.waitFor(async () => expect(await rows()).toHaveLength(2), { timeout: 20_000, interval: 100 });
    expect((await rows()).filter((r) => r.outcome === 'ok' && r.accepted)).toHaveLength(1);
    const stored = await memoir.messages(tenantId, conversationId, { limit: 10 });
    expect(stored.filter((m) => m.messageId === messageId)).toHaveLength(1);
    expect(stored.filter((m) => m.messageId === adopted.messageId)).toHaveLength(1);
  }, 60_000);

  it('an adopter on the same worker takes the running call: the model is called once', async () => {
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('adopt');
    const { memoir } = stack.serving.services;
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I sew.', userId: 'u' });
    const worker = createActivities(activityDeps(stack.serving.services));
    const workflowExecution = { workflowId: conversationWorkflowId(tenantId, conversationId), runId: 'run-adopt' };
    const call: GenerateReplyCall = {
      messageId: uniqueId('m'),
      turn: 2,
      model: 'claude-sonnet-5-5',
      content: 'What do I sew, slowly?',
      persist: {},
      assemble: 'first',
    };
    await stack.offline.script([{ action: { kind: 'delay', ms: 2 * HAND_OVER_AFTER_MS }, lastUserContains: 'slowly' }]);
    const before = (await stack.offline.requests()).length;
    const marker = await handOver(worker, workflowExecution, call);
    const adopted = await adopt(worker, workflowExecution, call, marker);
    expect(adopted.messageId).toBeDefined();
    expect((await stack.offline.requests()).length - before).toBe(1);
  }, 60_000);
});

describe('a worker killed after the hand-over', () => {
  const killable = useKillableWorkerStack(LOCAL);

  it('the adopter is retried on the next worker, which answers the turn exactly once', async () => {
    const { stack, model, worker } = killable;
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('killed');
    const { memoir, llmCalls } = stack.serving.services;
    const first = await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I sail.', userId: 'u' });
    model.script([{ action: { kind: 'delay', ms: 4 * HAND_OVER_AFTER_MS }, lastUserContains: 'killed' }]);
    const repliesBefore = model.started('reply');
    const sent = memoir.sendMessage(tenantId, conversationId, { content: 'Will I be killed?' });
    // Killed once the call has been handed over (the adopting activity is scheduled) and is still running.
    await vi.waitFor(
      async () =>
        expect(scheduledReplies(await eventsOf(stack, tenantId, conversationId, { inFlight: true }))).toHaveLength(1),
      { timeout: 30_000, interval: 50 },
    );
    expect(model.inFlight('reply')).toBe(1);
    await worker.kill();
    await worker.start();
    const second = await sent;

    expect(second.reply.degraded).toBe(false);
    // The dead worker's call, and the adopter's retry from the start on the next worker.
    expect(model.started('reply') - repliesBefore).toBe(2);
    await expectTwoTurnsStoredOnce({ memoir, llmCalls }, tenantId, conversationId, first, second);
  }, 120_000);
});
