/**
 * HTTP API v1 end to end: real Temporal, real PostgreSQL, the offline model over HTTP through the real SDK.
 */
import { costUsd, DEFAULT_PRICING } from '../src/model/pricing';
import { startStack, type Stack } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a turn through the API', () => {
  it('creates a conversation, answers a message and stores both messages in order', async () => {
    const created = await stack.http('POST', '/v1/conversations', { conversationId: 'trip', userId: 'ada' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      conversationId: 'trip',
      workflowId: `conversation/${stack.tenants.acme.id}/trip`,
    });
    expect(created.body.runId).toEqual(expect.any(String));

    const sent = await stack.http('POST', '/v1/conversations/trip/messages', {
      content: 'Hello! My name is Ada.',
      messageId: 'm-1',
    });
    expect(sent.status).toBe(200);
    expect(sent.body.messageId).toBe('m-1');
    expect(sent.body.reply).toMatchObject({ model: 'claude-sonnet-5-5', degraded: false });
    expect(sent.body.reply.content).toContain('Hello! My name is Ada.');
    const u = sent.body.usage;
    expect(u.inputTokens).toBeGreaterThan(0);
    expect(u.outputTokens).toBeGreaterThan(0);
    expect(u.costUsd).toBeCloseTo(
      costUsd(DEFAULT_PRICING, 'claude-sonnet-5-5', {
        inputTokens: u.inputTokens,
        outputTokens: u.outputTokens,
        cacheReadTokens: u.cacheReadTokens,
        cacheWrite5mTokens: u.cacheWriteTokens,
        cacheWrite1hTokens: 0,
      }),
      9,
    );

    const listed = await stack.http('GET', '/v1/conversations/trip/messages');
    expect(listed.status).toBe(200);
    expect(listed.body.messages.map((m: any) => [m.seq, m.role, m.messageId])).toEqual([
      [1, 'user', 'm-1'],
      [2, 'assistant', sent.body.reply.messageId],
    ]);
    expect(listed.body.messages[1]).toMatchObject({
      content: sent.body.reply.content,
      inReplyTo: 'm-1',
      degraded: false,
    });

    const state = await stack.http('GET', '/v1/conversations/trip');
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({
      tenantId: stack.tenants.acme.id,
      conversationId: 'trip',
      userId: 'ada',
      status: 'active',
      turnCount: 1,
    });
    expect(state.body.totals).toMatchObject({
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      costUsd: u.costUsd,
    });
  });

  it('answers a repeated messageId from the store: one model call, one stored turn, the same reply', async () => {
    await stack.offline.reset();
    const first = await stack.http('POST', '/v1/conversations/dedupe/messages', {
      content: 'Only once, please.',
      messageId: 'once',
      userId: 'bo',
    });
    const second = await stack.http('POST', '/v1/conversations/dedupe/messages', {
      content: 'Only once, please.',
      messageId: 'once',
    });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect((await stack.offline.requests()).filter((r) => r.status === 200)).toHaveLength(1);
    const listed = await stack.http('GET', '/v1/conversations/dedupe/messages');
    expect(listed.body.messages).toHaveLength(2);
  });

  it('refuses a reused messageId with different content (409), storing nothing', async () => {
    await stack.http('POST', '/v1/conversations/reuse/messages', {
      content: 'first text',
      messageId: 'same',
      userId: 'bo',
    });
    const clash = await stack.http('POST', '/v1/conversations/reuse/messages', {
      content: 'other text',
      messageId: 'same',
    });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('message_id_conflict');
    expect((await stack.http('GET', '/v1/conversations/reuse/messages')).body.messages).toHaveLength(2);
  });

  it('runs concurrent messages one at a time, each reply right after its message', async () => {
    await stack.offline.script([], { latencyMs: 100 });
    const sends = Array.from({ length: 5 }, (_, i) =>
      stack.http('POST', '/v1/conversations/busy/messages', {
        content: `message number ${i}`,
        messageId: `b-${i}`,
        userId: 'cy',
      }),
    );
    const results = await Promise.all(sends);
    await stack.offline.script([], { latencyMs: 0 });
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const { messages } = (await stack.http('GET', '/v1/conversations/busy/messages')).body;
    expect(messages.map((m: any) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 0; i < 10; i += 2) {
      expect(messages[i].role).toBe('user');
      expect(messages[i + 1]).toMatchObject({ role: 'assistant', inReplyTo: messages[i].messageId });
    }
    // Serial turns: the k-th model call saw all k-1 earlier turns in its context.
    const earlier = results
      .map((r) => Number(/with (\d+) earlier message/.exec(r.body.reply.content)?.[1]))
      .sort((a, b) => a - b);
    expect(earlier).toEqual([0, 2, 4, 6, 8]);
  });

  it('keeps arrival order for messages posted without waiting (async=true)', async () => {
    for (let i = 0; i < 4; i++) {
      const posted = await stack.http('POST', '/v1/conversations/queued/messages?async=true', {
        content: `queued ${i}`,
        messageId: `q-${i}`,
        userId: 'dee',
      });
      expect(posted.status).toBe(202);
      expect(posted.body).toEqual({ messageId: `q-${i}` });
    }
    const listed = await until(
      () => stack.http('GET', '/v1/conversations/queued/messages'),
      (r) => r.status === 200 && r.body.messages.length === 8,
    );
    const users = listed.body.messages.filter((m: any) => m.role === 'user').map((m: any) => m.messageId);
    expect(users).toEqual(['q-0', 'q-1', 'q-2', 'q-3']);
  });
});

describe('API errors', () => {
  it('needs a valid API key (401)', async () => {
    const none = await fetch(`${stack.serving.api!.url}/v1/conversations/x`);
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('unauthorized');
    expect((await stack.http('GET', '/v1/conversations/x', undefined, 'mk_wrong_key_0000000000')).status).toBe(401);
  });

  it('rejects malformed input with 400 and a JSON error, storing nothing', async () => {
    const cases = [
      ['POST', '/v1/conversations', { userId: 'has space' }],
      ['POST', '/v1/conversations', { userId: 'ok', surprise: true }],
      ['POST', '/v1/conversations/bad/messages', { content: '   ' }],
      ['POST', '/v1/conversations/bad/messages', { content: 42 }],
      ['POST', '/v1/conversations/bad/messages', { content: 'x', messageId: 'a/b' }],
      ['POST', '/v1/conversations/bad/messages', '{"content": "unterminated'],
      ['GET', `/v1/conversations/${'x'.repeat(129)}`, undefined],
      ['POST', '/v1/conversations', { conversationId: 'bad', userId: 'ok', systemPrompt: 'nul \u0000 inside' }],
      ['POST', '/v1/conversations', { conversationId: 'bad', userId: 'ok', systemPrompt: 'lone \uD800 surrogate' }],
      ['POST', '/v1/conversations/bad/context', { query: 'lone \uDC00 surrogate' }],
    ] as const;
    for (const [method, route, body] of cases) {
      const res = await stack.http(method, route, body);
      expect(res.status, `${method} ${route} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error).toEqual(
        expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
      );
    }
    expect((await stack.http('GET', '/v1/conversations/bad')).status).toBe(404);
  });

  it('rejects content over the limit with 413 before anything is written', async () => {
    const big = 'é'.repeat(20_000); // 40,000 UTF-8 bytes > 32 KiB
    const res = await stack.http('POST', '/v1/conversations/big/messages', { content: big, userId: 'ed' });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('content_too_large');
    expect((await stack.http('GET', '/v1/conversations/big')).status).toBe(404);
  });

  it('answers 409 for a conversation id that exists', async () => {
    expect((await stack.http('POST', '/v1/conversations', { conversationId: 'twice', userId: 'fi' })).status).toBe(201);
    const again = await stack.http('POST', '/v1/conversations', { conversationId: 'twice', userId: 'fi' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conversation_exists');
  });

  it("hides another tenant's conversation exactly like a missing one", async () => {
    await stack.http('POST', '/v1/conversations', { conversationId: 'private', userId: 'gil' });
    await stack.http('POST', '/v1/conversations/private/messages', { content: 'secret plans' });
    const g = stack.tenants.globex.key;
    const missing = await stack.http('GET', '/v1/conversations/never-existed', undefined, g);
    const other = await stack.http('GET', '/v1/conversations/private', undefined, g);
    expect(other.status).toBe(404);
    expect(other.body).toEqual(missing.body);
    expect((await stack.http('GET', '/v1/conversations/private/messages', undefined, g)).status).toBe(404);
    expect((await stack.http('DELETE', '/v1/conversations/private', undefined, g)).status).toBe(404);
    expect((await stack.http('GET', '/v1/conversations/private/messages')).body.messages).toHaveLength(2);
  });

  it('deletes a conversation: 204, then it is gone', async () => {
    await stack.http('POST', '/v1/conversations/doomed/messages', { content: 'soon gone', userId: 'hal' });
    expect((await stack.http('DELETE', '/v1/conversations/doomed')).status).toBe(204);
    expect((await stack.http('GET', '/v1/conversations/doomed/messages')).status).toBe(404);
    const rows = await stack.serving.services.db.query(
      `SELECT count(*)::int AS n FROM messages WHERE conversation_id = 'doomed'`,
    );
    expect(rows[0]).toEqual({ n: 0 });
    expect((await stack.http('DELETE', '/v1/conversations/doomed')).status).toBe(404);
  });

  it('reports health and readiness', async () => {
    expect((await stack.http('GET', '/healthz')).body).toEqual({ ok: true });
    const ready = await stack.http('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ database: 'ok', temporal: 'ok' });
  });
});
