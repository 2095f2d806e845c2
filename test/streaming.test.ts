/**
 * Streaming replies over Server-Sent Events, on both buses (Redis Streams, and in-process when embedded):
 * deltas in order then the final stored reply; a reconnect with Last-Event-ID gets only what it missed; a retried
 * attempt says it restarted.
 */
import { Redis } from 'ioredis';
import { chunkText } from '../src/offline-model/sse';
import { TEST_SERVICES } from './helpers/services';
import { readSse, type SseEvent } from './helpers/read-sse';
import { startStack, uniqueId, type Stack } from './helpers/stack';

const text = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'delta')
    .map((e) => e.data.text)
    .join('');

describe.each([
  ['Redis Streams', {}],
  ['in-process bus', { REDIS_URL: '' }],
])('streaming on %s', (_name, env) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { ...env, MEMOIR_RETRY_BASE_DELAY: '100ms' } });
  });
  afterAll(() => stack?.stop());

  it('streams deltas in order, then the final stored reply with usage', async () => {
    const conversationId = uniqueId('stream');
    // Paced like a model: deltas that arrive faster than a publish would be coalesced (next test).
    await stack.offline.script([], { streamChunkDelayMs: 20 });
    const events = await readSse(stack, conversationId, {
      content: 'Tell me a long story about the sea, please.',
      userId: 'ada',
      messageId: 's1',
    });
    expect(events[0]).toMatchObject({ event: 'accepted', data: { messageId: 's1' } });
    expect(events.map((e) => e.event)).toContain('attempt');
    const final = events.at(-1)!;
    expect(final.event).toBe('final');
    expect(events.filter((e) => e.event === 'delta').length).toBeGreaterThan(1);
    expect(text(events)).toBe(final.data.reply.content);
    expect(final.data.usage.outputTokens).toBeGreaterThan(0);
    const ids = events.filter((e) => e.id).map((e) => e.id!);
    expect(new Set(ids).size).toBe(ids.length);
    // The stored reply is the streamed one.
    const { messages } = (await stack.http('GET', `/v1/conversations/${conversationId}/messages`)).body;
    expect(messages[1].content).toBe(final.data.reply.content);
    await stack.offline.script([], { streamChunkDelayMs: 0 });
  });

  it.runIf(_name === 'Redis Streams')(
    'coalesces text that arrives faster than Redis answers into fewer publishes',
    async () => {
      const conversationId = uniqueId('coalesce');
      const events = await readSse(stack, conversationId, {
        content: 'Tell me a long story about the sea, please, with every detail you can think of.',
        userId: 'ada',
      });
      const final = events.at(-1)!;
      expect(final.event).toBe('final');
      expect(text(events)).toBe(final.data.reply.content);
      // The model sent the reply in chunkText() pieces, all at once; one publish each would match that count.
      const deltas = events.filter((e) => e.event === 'delta').length;
      expect(deltas).toBeGreaterThan(0);
      expect(deltas).toBeLessThan(chunkText(final.data.reply.content).length);
    },
  );

  it.runIf(_name === 'Redis Streams')('publishes nothing for a turn that nobody streams', async () => {
    const conversationId = uniqueId('unheard');
    const sent = await stack.http('POST', `/v1/conversations/${conversationId}/messages`, {
      content: 'No stream for this one, thanks.',
      userId: 'ed',
      messageId: 'q1',
    });
    expect(sent.status).toBe(200);
    const redis = new Redis(TEST_SERVICES.redisUrl);
    try {
      const turnStream = `memoir:stream:${stack.tenants.acme.id}/${conversationId}/q1`;
      expect(await redis.exists(turnStream, `${turnStream}:text`)).toBe(0);
    } finally {
      redis.disconnect();
    }
    // The same message streamed again is answered from the store, as before.
    const events = await readSse(stack, conversationId, {
      content: 'No stream for this one, thanks.',
      messageId: 'q1',
    });
    expect(events.at(-1)).toMatchObject({ event: 'final', data: { reply: { content: sent.body.reply.content } } });
  });

  it('resumes from Last-Event-ID without repeating text or the turn', async () => {
    const conversationId = uniqueId('resume');
    await stack.offline.script([], { streamChunkDelayMs: 40 });
    const body = {
      content: 'A long answer, please, with many many words in it to stream slowly.',
      userId: 'bo',
      messageId: 'r1',
    };
    const first = await readSse(stack, conversationId, body, {
      stopAfter: (ev) => ev.filter((e) => e.event === 'delta').length >= 3,
    });
    const lastId = first.filter((e) => e.id).at(-1)!.id!;
    const rest = await readSse(stack, conversationId, body, { lastEventId: lastId });
    await stack.offline.script([], { streamChunkDelayMs: 0 });
    const final = rest.at(-1)!;
    expect(final.event).toBe('final');
    expect(text(first) + text(rest)).toBe(final.data.reply.content);
    expect((await stack.http('GET', `/v1/conversations/${conversationId}/messages`)).body.messages).toHaveLength(2);
  });

  it('says the reply restarted when an attempt is retried after sending text', async () => {
    const conversationId = uniqueId('restart');
    await stack.offline.reset();
    await stack.offline.script([{ action: { kind: 'truncate' }, times: 1 }]);
    const events = await readSse(stack, conversationId, {
      content: 'This first attempt will be cut off midway through.',
      userId: 'cy',
    });
    const final = events.at(-1)!;
    expect(final.event).toBe('final');
    const restartAt = events.findIndex((e) => e.event === 'restart');
    expect(restartAt).toBeGreaterThan(0);
    expect(events[restartAt]!.data.attempt).toBe(2);
    // Text after the restart is the whole reply; what came before was the abandoned attempt.
    expect(text(events.slice(restartAt))).toBe(final.data.reply.content);
  });

  it('reports a refused turn as an error event', async () => {
    const conversationId = uniqueId('refused');
    await stack.http('POST', `/v1/conversations/${conversationId}/messages`, {
      content: 'first',
      userId: 'di',
      messageId: 'same',
    });
    const events = await readSse(stack, conversationId, { content: 'different', messageId: 'same' });
    expect(events.at(-1)).toMatchObject({
      event: 'error',
      data: { error: { code: 'message_id_conflict', status: 409 } },
    });
  });
});
