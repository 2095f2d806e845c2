/**
 * Tool calls under encryption at rest: inputs, results and step content are sealed like messages, read back in
 * the clear, and erasure deletes them with the conversation.
 */
import path from 'node:path';
import { startStack, uniqueId, type Stack } from './helpers/stack';

const MASTER_KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    api: false,
    env: {
      MEMOIR_MASTER_KEYS: MASTER_KEYS,
      MEMOIR_ENCRYPT_AT_REST: 'true',
      MEMOIR_TOOLS_MODULE: path.join(__dirname, 'fixtures', 'test-tools.ts'),
    },
  });
}, 180_000);
afterAll(() => stack?.stop());

it('seals tool inputs, results and steps, and erasure deletes them', async () => {
  const { memoir, db, tools, eraser } = stack.serving.services;
  const tenant = stack.tenants.acme.id;
  const conversationId = uniqueId('sealed');
  await memoir.startConversation(tenant, { conversationId, userId: 'ada', tools: ['lookup_weather'] });
  await stack.offline.script([
    {
      afterToolResults: false,
      times: 1,
      action: { kind: 'tool_use', calls: [{ name: 'lookup_weather', input: { city: 'Reykjavik' } }] },
    },
  ]);
  const turn = await memoir.sendMessage(tenant, conversationId, { content: 'weather in Reykjavik?' });
  expect(turn.reply.content).toContain('Reykjavik: 21°C');

  const raw = await db.query<{ input: string; result: string }>(
    'SELECT input, result FROM tool_calls WHERE tenant_id = $1 AND conversation_id = $2',
    [tenant, conversationId],
  );
  const steps = await db.query<{ content: string }>(
    'SELECT content FROM tool_steps WHERE tenant_id = $1 AND conversation_id = $2',
    [tenant, conversationId],
  );
  expect(raw).toHaveLength(1);
  expect(steps).toHaveLength(1);
  for (const value of [raw[0]!.input, raw[0]!.result, steps[0]!.content]) {
    expect(value.startsWith('memoir-enc:')).toBe(true);
    expect(value).not.toContain('Reykjavik');
  }
  const [call] = await tools.calls.list(tenant, conversationId);
  expect(call).toMatchObject({ input: { city: 'Reykjavik' }, result: 'Reykjavik: 21°C and sunny', outcome: 'ok' });

  await eraser.eraseConversation(tenant, conversationId);
  const left = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM tool_calls WHERE tenant_id = $1 AND conversation_id = $2)::int
          + (SELECT count(*) FROM tool_steps WHERE tenant_id = $1 AND conversation_id = $2)::int AS n`,
    [tenant, conversationId],
  );
  expect(left[0]!.n).toBe(0);
}, 120_000);
