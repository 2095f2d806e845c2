/**
 * The client library as an application uses it: its own Temporal connection, no database, no HTTP.
 */
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { MemoirClient } from '../src';
import { freePort } from '../src/free-port';
import { toMemoirError } from '../src/client/errors';
import { isDependencyUnavailable } from '../src/client/unavailable';
import { TEST_SERVICES } from './helpers/services';
import { startStack, uniqueId, type Stack } from './helpers/stack';

let stack: Stack;
let connection: Connection;
let memoir: MemoirClient;
beforeAll(async () => {
  // Search attributes (what listConversations reads) catch up on batched turns once a conversation is quiet this long.
  stack = await startStack({ api: false, env: { MEMOIR_COMPACT_WHEN_IDLE: '1s' } });
  connection = await Connection.connect({ address: TEST_SERVICES.temporalAddress });
  memoir = new MemoirClient({
    client: new Client({ connection }),
    taskQueue: stack.env.MEMOIR_TASK_QUEUE!,
    policy: stack.serving.services.config.policy,
    // The workers' key for the hashed UserId search attribute (MEMOIR_REDACT_KEY in a deployment).
    userSearchKey: stack.serving.services.userSearchKey,
  });
});
afterAll(async () => {
  await connection?.close();
  await stack?.stop();
});

it('starts, messages, posts to and lists conversations through Temporal alone', async () => {
  const tenant = stack.tenants.acme.id;
  const id = uniqueId('lib');
  const started = await memoir.startConversation(tenant, { conversationId: id, userId: 'ada' });
  expect(started.workflowId).toBe(`conversation/${tenant}/${id}`);
  await expect(memoir.startConversation(tenant, { conversationId: id, userId: 'ada' })).rejects.toMatchObject({
    code: 'conversation_exists',
    status: 409,
  });
  const r = await memoir.sendMessage(tenant, id, { content: 'My name is Ada. Hello!' });
  expect(r.reply.degraded).toBe(false);
  expect((await memoir.sendMessage(tenant, id, { content: 'What is my name?' })).reply.content).toBe(
    'Your name is Ada.',
  );
  await memoir.postMessage(tenant, id, { content: 'a note for later', messageId: 'later' });
  for (let i = 0; i < 100 && (await memoir.getState(tenant, id)).turnCount < 3; i++)
    await new Promise((res) => setTimeout(res, 100));
  expect((await memoir.getState(tenant, id)).turnCount).toBe(3);
  // Stored messages need database access, which this client does not have.
  await expect(memoir.messages(tenant, id)).rejects.toMatchObject({ status: 501 });
  let listed: Awaited<ReturnType<MemoirClient['listConversations']>> = [];
  for (let i = 0; i < 50 && !listed.some((c) => c.conversationId === id && c.turnCount === 3); i++) {
    listed = await memoir.listConversations(tenant, { userId: 'ada' });
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(listed.find((c) => c.conversationId === id)).toMatchObject({ userId: 'ada', status: 'active', turnCount: 3 });
  expect((await memoir.listConversations(tenant, { minCostUsd: 1000 })).length).toBe(0);
});

describe('a dependency that cannot be reached', () => {
  it('the Temporal server down: 503 unavailable, telling the caller to re-send', async () => {
    // No retry interceptor, so the client's own gRPC retries do not stretch the test.
    const dead = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, interceptors: [] });
    const offline = new MemoirClient({
      client: new Client({ connection: dead }),
      taskQueue: 'nowhere',
      policy: stack.serving.services.config.policy,
    });
    try {
      await expect(offline.sendMessage('t', 'c', { content: 'hello', messageId: 'm-1' })).rejects.toMatchObject({
        code: 'unavailable',
        status: 503,
      });
    } finally {
      await dead.close();
    }
  });

  it('PostgreSQL down: the error the driver throws counts as unavailable; ordinary errors do not', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: await freePort(), user: 'x', database: 'x' });
    const refused = await pool.query('SELECT 1').catch((err: unknown) => err);
    await pool.end();
    expect(isDependencyUnavailable(refused)).toBe(true);
    expect(toMemoirError(refused)).toMatchObject({ code: 'unavailable', status: 503 });
    const syntax = await stack.serving.services.db.query('SELEC 1').catch((err: unknown) => err);
    expect(isDependencyUnavailable(syntax)).toBe(false);
    expect(isDependencyUnavailable(new Error('boom', { cause: new Error('deeper') }))).toBe(false);
  });
});
