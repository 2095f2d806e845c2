/**
 * Calling the model like a production system, end to end: Temporal owns retries (honouring retry-after), the
 * chain falls back, an exhausted chain degrades without losing the message, every call is priced and recorded.
 */
import { costUsd, DEFAULT_PRICING } from '../src/model/pricing';
import { startStack, uniqueId, type Stack } from './helpers/stack';
import { historyAfterTurns } from './helpers/turn-history';

const FAST_RETRIES = { MEMOIR_RETRY_BASE_DELAY: '100ms', MEMOIR_MODEL_ATTEMPTS: '3' };
const PRIMARY = 'claude-sonnet-5-5';
const FALLBACK = 'claude-haiku-5-5';

async function send(stack: Stack, conversationId: string, content: string) {
  return stack.http('POST', `/v1/conversations/${conversationId}/messages`, { content, userId: 'u' });
}

async function callsFor(stack: Stack, conversationId: string) {
  return stack.serving.services.db.query<Record<string, any>>(
    `SELECT model, attempt, outcome, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
            cache_write_1h_tokens, cost_usd, accepted, created_at FROM llm_calls
      WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY created_at, attempt`,
    [stack.tenants.acme.id, conversationId],
  );
}

describe('retries and fallback', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: FAST_RETRIES });
  });
  afterAll(() => stack?.stop());
  beforeEach(() => stack.offline.reset());

  it('waits what retry-after asks (2 s), not the default backoff, before the next attempt', async () => {
    await stack.offline.script([{ action: { kind: 'error', status: 429, retryAfterSeconds: 2 }, times: 1 }]);
    const res = await send(stack, 'patient', 'hello after a rate limit');
    expect(res.status).toBe(200);
    expect(res.body.reply.degraded).toBe(false);
    const calls = await callsFor(stack, 'patient');
    expect(calls.map((c) => [c.model, c.attempt, c.outcome])).toEqual([
      [PRIMARY, 1, 'ModelRateLimited'],
      [PRIMARY, 2, 'ok'],
    ]);
    const waited = calls[1]!.created_at.getTime() - calls[0]!.created_at.getTime();
    expect(waited).toBeGreaterThanOrEqual(1_900); // the default backoff here is 100 ms
    expect(waited).toBeLessThan(6_000);
  });

  it('falls back to the next model when the primary stays overloaded, and says so', async () => {
    await stack.offline.script([{ action: { kind: 'error', status: 529 }, model: PRIMARY }]);
    const res = await send(stack, 'overloaded', 'is anyone there?');
    expect(res.status).toBe(200);
    expect(res.body.reply).toMatchObject({ model: FALLBACK, degraded: false });
    const calls = await callsFor(stack, 'overloaded');
    expect(calls.map((c) => [c.model, c.outcome])).toEqual([
      [PRIMARY, 'ModelOverloaded'],
      [PRIMARY, 'ModelOverloaded'],
      [PRIMARY, 'ModelOverloaded'],
      [FALLBACK, 'ok'],
    ]);
    const state = await stack.http('GET', '/v1/conversations/overloaded');
    expect(state.body.fallbacks).toBe(1);
    expect(state.body.lastError).toMatchObject({ type: 'ModelOverloaded' });
    // The workflow history shows which model answered and why the chain moved.
    const history = await historyAfterTurns(stack.serving.services.memoir.handle(stack.tenants.acme.id, 'overloaded'));
    const summaries = JSON.stringify(history.events?.map((e) => e.userMetadata?.summary?.data).filter(Boolean));
    expect(Buffer.from(summaries).toString()).toBeTruthy();
    const decoded = (history.events ?? [])
      .map((e) => e.userMetadata?.summary?.data)
      .filter((d): d is Uint8Array => !!d)
      .map((d) => Buffer.from(d).toString());
    expect(
      decoded.some((s) => s.includes(`reply · ${FALLBACK}`) && s.includes(`fallback after ${PRIMARY} ModelOverloaded`)),
    ).toBe(true);
  });

  it('moves on at once from a model that does not exist (no retries on it)', async () => {
    const local = await startStack({ env: { ...FAST_RETRIES, MEMOIR_MODELS: `claude-retired-1,${FALLBACK}` } });
    try {
      const res = await local.http('POST', '/v1/conversations/retired/messages', { content: 'hi', userId: 'u' });
      expect(res.body.reply.model).toBe(FALLBACK);
      const calls = await callsFor(local, 'retired');
      expect(calls.map((c) => [c.model, c.outcome])).toEqual([
        ['claude-retired-1', 'ModelNotFound'],
        [FALLBACK, 'ok'],
      ]);
    } finally {
      await local.stop();
    }
  });

  it('answers a degraded reply when every model fails, and still stores the message', async () => {
    await stack.offline.script([{ action: { kind: 'error', status: 529 } }]);
    const res = await send(stack, 'dark', 'please remember this message');
    expect(res.status).toBe(200);
    expect(res.body.reply).toMatchObject({ degraded: true, model: 'none' });
    expect(res.body.reply.content).toMatch(/can't reach the language model/);
    expect(res.body.usage.costUsd).toBe(0);
    const { messages } = (await stack.http('GET', '/v1/conversations/dark/messages')).body;
    expect(messages.map((m: any) => [m.role, m.degraded ?? null])).toEqual([
      ['user', null],
      ['assistant', true],
    ]);
    expect(messages[0].content).toBe('please remember this message');
    expect((await callsFor(stack, 'dark')).map((c) => c.outcome)).toEqual(Array(6).fill('ModelOverloaded'));
    const state = (await stack.http('GET', '/v1/conversations/dark')).body;
    expect(state.degradedReplies).toBe(1);
    const metrics = await stack.serving.services.metrics.registry.getSingleMetricAsString(
      'memoir_degraded_replies_total',
    );
    expect(metrics).toMatch(/memoir_degraded_replies_total \d+/);
  });

  it('fails a rejected request fast: one call, no retries, no fallback, a degraded reply', async () => {
    await stack.offline.script([{ action: { kind: 'error', status: 400, message: 'messages: bad shape' } }]);
    const res = await send(stack, 'rejected', 'this request will be refused');
    expect(res.body.reply.degraded).toBe(true);
    expect((await callsFor(stack, 'rejected')).map((c) => [c.model, c.attempt, c.outcome])).toEqual([
      [PRIMARY, 1, 'ModelBadRequest'],
    ]);
    expect((await stack.offline.requests()).length).toBe(1);
  });

  it('prices every call by the pricing table', async () => {
    await send(stack, 'priced', 'what does this cost?');
    await send(stack, 'priced', 'and this one?');
    const calls = (await callsFor(stack, 'priced')).filter((c) => c.outcome === 'ok');
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      const expected = costUsd(DEFAULT_PRICING, c.model, {
        inputTokens: c.input_tokens,
        outputTokens: c.output_tokens,
        cacheReadTokens: c.cache_read_tokens,
        cacheWrite5mTokens: c.cache_write_5m_tokens,
        cacheWrite1hTokens: c.cache_write_1h_tokens,
      });
      expect(c.cost_usd).toBeCloseTo(expected, 9);
      // The same by hand, from the table's dollars per million tokens: not through costUsd().
      const perMTok = DEFAULT_PRICING[c.model]!;
      const byHand =
        (c.input_tokens * perMTok.input +
          c.output_tokens * perMTok.output +
          c.cache_read_tokens * perMTok.cacheRead +
          c.cache_write_5m_tokens * perMTok.cacheWrite5m +
          c.cache_write_1h_tokens * perMTok.cacheWrite1h) /
        1_000_000;
      expect(c.cost_usd).toBeCloseTo(byHand, 9);
      expect(c.cost_usd).toBeGreaterThan(0);
      expect(c.accepted).toBe(true);
    }
  });
});

describe('bounds', () => {
  it('ends a turn at the deadline with a degraded reply when the model is too slow', async () => {
    const stack = await startStack({
      env: { ...FAST_RETRIES, MEMOIR_TURN_DEADLINE: '4s', MEMOIR_MODEL_TIMEOUT: '2s' },
    });
    try {
      await stack.offline.script([{ action: { kind: 'delay', ms: 10_000 } }]);
      const started = Date.now();
      const res = await stack.http('POST', '/v1/conversations/slow/messages', { content: 'hurry', userId: 'u' });
      const took = Date.now() - started;
      expect(res.body.reply.degraded).toBe(true);
      expect(took).toBeLessThan(15_000);
    } finally {
      await stack.stop();
    }
  });

  it("refuses turns with 402 once the tenant's daily budget is spent, without calling the model", async () => {
    const stack = await startStack({ env: { MEMOIR_DAILY_BUDGET_USD: '0.000001' } });
    try {
      const first = await stack.http('POST', '/v1/conversations/spender/messages', { content: 'first', userId: 'u' });
      expect(first.status).toBe(200);
      await stack.offline.reset();
      const second = await stack.http('POST', '/v1/conversations/spender/messages', { content: 'second', userId: 'u' });
      expect(second.status).toBe(402);
      expect(second.body.error.code).toBe('budget_exceeded');
      expect(await stack.offline.requests()).toHaveLength(0);
      expect((await stack.http('GET', '/v1/conversations/spender/messages')).body.messages).toHaveLength(2);
      // Another tenant has its own budget.
      const other = await stack.http(
        'POST',
        '/v1/conversations/frugal/messages',
        { content: 'hi', userId: 'v' },
        stack.tenants.globex.key,
      );
      expect(other.status).toBe(200);
    } finally {
      await stack.stop();
    }
  });
});

describe('prompt cache over a conversation', () => {
  it('serves at least 80% of input tokens from the cache from the fourth turn on (30 turns)', async () => {
    const stack = await startStack({ api: false });
    try {
      const tenant = stack.tenants.acme.id;
      const { memoir } = stack.serving.services;
      const conversationId = uniqueId('cached');
      const systemPrompt = `You are a travel planner for sailing holidays. ${'Follow the house style guide closely. '.repeat(220)}`;
      await memoir.startConversation(tenant, { conversationId, userId: 'u', systemPrompt });
      const usage = [];
      for (let turn = 1; turn <= 30; turn++) {
        const r = await memoir.sendMessage(tenant, conversationId, {
          content: `Turn ${turn}: tell me about island number ${turn}.`,
        });
        usage.push(r.usage);
      }
      const steady = usage.slice(3);
      const read = steady.reduce((t, u) => t + u.cacheReadTokens, 0);
      const prompt = steady.reduce((t, u) => t + u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, 0);
      expect(read / prompt).toBeGreaterThanOrEqual(0.8);
      const state = await memoir.getState(tenant, conversationId);
      expect(state.totals.cacheHitRatio).toBeGreaterThan(0.7);
    } finally {
      await stack.stop();
    }
  });
});
