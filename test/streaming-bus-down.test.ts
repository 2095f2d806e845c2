/**
 * A streamed turn whose listen mark cannot be set (Redis, the stream bus, is down when the API marks it): the turn
 * still runs and its reply arrives in `final`, but the client is told at once that no deltas will come, instead of
 * a stream that stays silent until the end. Redis is a process of this test's own, stopped and started again.
 */
import type { Redis } from 'ioredis';
import { redisProcess, type Restartable } from './helpers/processes';
import { readSse } from './helpers/read-sse';
import { startStack, uniqueId, type Stack } from './helpers/stack';

let stack: Stack;
let redis: { url: string; proc: Restartable };

beforeAll(async () => {
  redis = await redisProcess();
  stack = await startStack({ env: { REDIS_URL: redis.url, MEMOIR_TIER_TIMEOUT: '500ms' } });
});
afterAll(async () => {
  await stack?.stop().catch(() => undefined);
  await redis?.proc.stop();
});

it('answers a streamed turn without deltas, says so first, and streams again once Redis is back', async () => {
  const conversationId = uniqueId('bus-down');
  await redis.proc.stop();
  const events = await readSse(stack, conversationId, { content: 'Is anyone there?', userId: 'ada', messageId: 'd1' });
  expect(events.map((e) => e.event)).toEqual(['accepted', 'stream_degraded', 'final']);
  expect(events[1]!.data).toMatchObject({ code: 'deltas_unavailable', message: expect.any(String) });
  const final = events[2]!.data;
  const { messages } = (await stack.http('GET', `/v1/conversations/${conversationId}/messages`)).body;
  expect(messages.map((m: { content: string }) => m.content)).toEqual(['Is anyone there?', final.reply.content]);

  await redis.proc.start();
  const api = stack.serving.services.memory.redis as Redis;
  await vi.waitFor(() => expect(api.status).toBe('ready'), { timeout: 30_000, interval: 100 });
  const again = await readSse(stack, conversationId, { content: 'And now?', messageId: 'd2' });
  expect(again.map((e) => e.event)).not.toContain('stream_degraded');
  expect(again.filter((e) => e.event === 'delta').length).toBeGreaterThan(0);
  expect(again.at(-1)!.event).toBe('final');
});
