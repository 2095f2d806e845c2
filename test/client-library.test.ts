/**
 * The client library as an application uses it: its own Temporal connection, no database, no HTTP.
 */
import { Client, Connection } from '@temporalio/client';
import { MemoirClient } from '../src';
import { TEST_SERVICES } from './helpers/services';
import { startStack, uniqueId, type Stack } from './helpers/stack';

let stack: Stack;
let connection: Connection;
let memoir: MemoirClient;
beforeAll(async () => {
  stack = await startStack({ api: false });
  connection = await Connection.connect({ address: TEST_SERVICES.temporalAddress });
  memoir = new MemoirClient({
    client: new Client({ connection }),
    taskQueue: stack.env.MEMOIR_TASK_QUEUE!,
    policy: stack.serving.services.config.policy,
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
