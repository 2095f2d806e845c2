/**
 * Reply on commit (src/storage/turn-notices.ts): a client with database access answers a turn as soon as the
 * activity that stored it says so, without waiting for the workflow to complete the update. Here the worker's
 * model call is held after it has stored its turn (its result not yet reported), so the update cannot complete
 * until the test lets it: whatever answers meanwhile came from the store.
 */
import { Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import pg from 'pg';
import { createActivities } from '../../activities';
import { activityDeps } from '../../src/runtime/worker';
import { openUpdates } from '../../src/replay/history';
import { LISTENER_NAME } from '../../src/storage/turn-notices';
import { conversationWorkflowId, getStateQuery } from '../../workflows/contract';
import { WORKFLOW_BUNDLE_PATH } from '../helpers/services';
import { startStack, uniqueId, type Stack } from '../helpers/stack';
import { historyAfterTurns } from '../helpers/turn-history';
import { expectTwoTurnsStoredOnce } from '../helpers/two-turns';

let stack: Stack;
let worker: Worker;
let running: Promise<void>;
/** While set, each model call waits for it after storing its turn, heartbeating. */
let hold: { released: Promise<void>; release(): void; reached: number } | undefined;

function holdReplies() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  hold = { released, release, reached: 0 };
  return hold;
}

beforeAll(async () => {
  stack = await startStack({ worker: false, env: { MEMOIR_FACTS_EVERY: '1000' } });
  const services = stack.serving.services;
  const activities = createActivities(activityDeps(services));
  const generateReply: typeof activities.generateReply = async (input) => {
    const out = await activities.generateReply(input);
    const held = hold;
    if (held) {
      held.reached++;
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 500);
      await held.released.finally(() => clearInterval(beat));
    }
    return out;
  };
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address: services.temporal.address }),
    namespace: services.config.temporal.namespace,
    taskQueue: services.config.temporal.taskQueue,
    workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
    activities: { ...activities, generateReply },
    stickyQueueScheduleToStartTimeout: '1s',
  });
  running = worker.run();
});

afterAll(async () => {
  hold?.release();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await stack?.stop();
});

const handleOf = (tenantId: string, conversationId: string) =>
  stack.serving.services.temporal.client.workflow.getHandle(conversationWorkflowId(tenantId, conversationId));

it('answers a turn from the store while its update is still open, then the update completes with the same turn', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('commit');
  const { memoir, conversations, llmCalls } = stack.serving.services;
  const first = await memoir.sendMessage(tenantId, conversationId, { content: 'My boat is the Vela.', userId: 'u' });

  const held = holdReplies();
  const answer = await memoir.sendMessage(tenantId, conversationId, {
    content: 'What is my boat called?',
    messageId: 'm-held',
  });
  // The model call that stored this turn has not reported its result: the update is open.
  // The notice can reach this process before the activity's own code goes on to the hold.
  await vi.waitFor(() => expect(held.reached).toBe(1), { timeout: 30_000, interval: 10 });
  expect(openUpdates(await handleOf(tenantId, conversationId).fetchHistory())).toBe(1);
  expect(answer).toEqual(await conversations.findTurn(tenantId, conversationId, 'm-held'));
  expect(answer.reply.degraded).toBe(false);

  held.release();
  hold = undefined;
  const history = await historyAfterTurns(handleOf(tenantId, conversationId));
  expect(openUpdates(history)).toBe(0);
  // Stored once, paid once; the same message again is answered with the same turn.
  await expectTwoTurnsStoredOnce({ memoir, llmCalls }, tenantId, conversationId, first, answer);
  const again = await memoir.sendMessage(tenantId, conversationId, {
    content: 'What is my boat called?',
    messageId: 'm-held',
  });
  expect(again).toEqual(answer);
});

it("reads the workflow's state after the turns it answered early", async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('state');
  const { memoir } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello.', userId: 'u' });
  const held = holdReplies();
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello again.' });
  // Asked while the update is open: answered once the workflow has taken the turn in, not before, though the
  // workflow itself, asked directly meanwhile, still has the message pending.
  let answered = false;
  const asked = performance.now();
  const state = memoir.getState(tenantId, conversationId).finally(() => (answered = true));
  expect(await handleOf(tenantId, conversationId).query(getStateQuery)).toMatchObject({ pendingMessages: 1 });
  // It waits 2 s at most (a workflow task that keeps failing must not hold the read): within that, not answered.
  if (performance.now() - asked < 1_500) expect(answered).toBe(false);
  held.release();
  hold = undefined;
  expect(await state).toMatchObject({ turnCount: 2, pendingMessages: 0 });
});

it('answers early through the HTTP API too', async () => {
  const conversationId = uniqueId('http');
  await stack.http('POST', '/v1/conversations', { conversationId, userId: 'u' });
  const held = holdReplies();
  const res = await stack.http('POST', `/v1/conversations/${conversationId}/messages`, { content: 'Hi there.' });
  expect(res.status).toBe(200);
  // The notice can reach this process before the activity's own code goes on to the hold.
  await vi.waitFor(() => expect(held.reached).toBe(1), { timeout: 30_000, interval: 10 });
  expect(openUpdates(await handleOf(stack.tenants.acme.id, conversationId).fetchHistory())).toBe(1);
  held.release();
  hold = undefined;
});

it('listens again after losing its connection, and answers early again', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('relisten');
  const { memoir, turnNotices } = stack.serving.services;
  expect(turnNotices?.listening).toBe(true);
  const admin = new pg.Client({ connectionString: stack.databaseUrl! });
  await admin.connect();
  const listeners = async () =>
    (
      await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [LISTENER_NAME],
      )
    ).rows.map((r) => r.pid);
  try {
    const [pid] = await listeners();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    // A turn meanwhile is answered by its update, heard or not.
    await memoir.sendMessage(tenantId, conversationId, { content: 'Hello.', userId: 'u' });
    await vi.waitFor(
      async () => {
        const now = await listeners();
        expect(now).toHaveLength(1);
        expect(now[0]).not.toBe(pid);
        expect(turnNotices?.listening).toBe(true);
      },
      { timeout: 30_000, interval: 50 },
    );
  } finally {
    await admin.end();
  }

  const held = holdReplies();
  const answer = await memoir.sendMessage(tenantId, conversationId, { content: 'Still there?' });
  // The notice can reach this process before the activity's own code goes on to the hold.
  await vi.waitFor(() => expect(held.reached).toBe(1), { timeout: 30_000, interval: 10 });
  expect(answer.reply.content.length).toBeGreaterThan(0);
  held.release();
  hold = undefined;
});
