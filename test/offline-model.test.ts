/**
 * The offline model is only useful if it is faithful: the real SDK must see the Messages API — responses,
 * streams, usage with prompt caching as documented, and errors with their headers — and Memoir's error
 * classification must read them as it would read Claude's.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure } from '@temporalio/common';
import { createAnthropic, ModelClient } from '../src/model/client';
import { classifyModelError, retryDelayMs, toApplicationFailure } from '../src/model/errors';
import { DEFAULT_PRICING } from '../src/model/pricing';
import { createOfflineModel } from '../src/offline-model/server';
import type { Rule } from '../src/offline-model/script';

const MODEL = 'claude-sonnet-5-5'; // minimum cacheable prefix 1,024 tokens
const LONG_SYSTEM = 'You are a meticulous travel planner. '.repeat(160); // ~1,480 tokens

let now = Date.now();
let app: ReturnType<typeof createOfflineModel>;
let sdk: Anthropic;

beforeAll(async () => {
  app = createOfflineModel({ now: () => now });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  sdk = createAnthropic({ apiKey: 'test', baseURL: url });
});
afterAll(() => app.close());
beforeEach(() => {
  app.script.reset();
});

const script = (rules: Rule[]) => app.script.add(rules);
const ask = (params: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) =>
  sdk.messages.create({
    model: MODEL,
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Hello there' }],
    ...params,
  });
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('Messages API', () => {
  it('answers JSON with usage and a request id', async () => {
    const { data, request_id } = await ask().withResponse();
    expect(data.type).toBe('message');
    expect(data.role).toBe('assistant');
    expect(data.content[0]).toMatchObject({ type: 'text' });
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect(data.usage.cache_read_input_tokens).toBe(0);
    expect(request_id).toMatch(/^req_offline_/);
  });

  it('streams the same message as server-sent events', async () => {
    const deltas: string[] = [];
    const stream = sdk.messages.stream({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Stream a reply, please' }],
    });
    stream.on('text', (d) => deltas.push(d));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe((final.content[0] as Anthropic.TextBlock).text);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it('stops at max_tokens', async () => {
    const msg = await ask({ max_tokens: 3 });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(3);
  });

  it('counts tokens', async () => {
    const counted = await sdk.messages.countTokens({
      model: MODEL,
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
    });
    expect(counted.input_tokens).toBeGreaterThanOrEqual(100);
  });
});

describe('prompt caching', () => {
  const system = (ttl?: '5m' | '1h'): Anthropic.TextBlockParam[] => [
    { type: 'text', text: LONG_SYSTEM, cache_control: ttl ? { type: 'ephemeral', ttl } : { type: 'ephemeral' } },
  ];

  it('writes a prefix at a breakpoint, then reads it', async () => {
    const first = await ask({ system: system() });
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(1024);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    const second = await ask({ system: system(), messages: [{ role: 'user', content: 'A different question' }] });
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
  });

  it('expires a 5-minute entry and keeps a 1-hour one, splitting writes by TTL', async () => {
    const text = `${LONG_SYSTEM} (ttl test)`;
    const sys = (ttl: '5m' | '1h'): Anthropic.TextBlockParam[] => [
      { type: 'text', text: `${text} ${ttl}`, cache_control: { type: 'ephemeral', ttl } },
    ];
    const written = await ask({ system: sys('1h') });
    expect(written.usage.cache_creation?.ephemeral_1h_input_tokens).toBeGreaterThan(1024);
    expect(written.usage.cache_creation?.ephemeral_5m_input_tokens).toBe(0);
    await ask({ system: sys('5m') });
    now += 6 * 60_000;
    expect((await ask({ system: sys('5m') })).usage.cache_read_input_tokens).toBe(0);
    expect((await ask({ system: sys('1h') })).usage.cache_read_input_tokens).toBeGreaterThan(1024);
  });

  it('expires entries on a clock advanced through /_offline/clock, not on the wall clock', async () => {
    const url = app.server.address() as { port: number };
    const advance = (ms: number) =>
      fetch(`http://127.0.0.1:${url.port}/_offline/clock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advanceMs: ms }),
      });
    const sys: Anthropic.TextBlockParam[] = [
      { type: 'text', text: `${LONG_SYSTEM} (clock test)`, cache_control: { type: 'ephemeral' } },
    ];
    const written = (await ask({ system: sys })).usage.cache_creation_input_tokens!;
    expect(written).toBeGreaterThan(1024);
    expect((await advance(4 * 60_000)).status).toBe(200);
    // Read at 4 minutes, which refreshes the entry for 5 more: still there 4 minutes later.
    expect((await ask({ system: sys })).usage.cache_read_input_tokens).toBe(written);
    await advance(4 * 60_000);
    expect((await ask({ system: sys })).usage.cache_read_input_tokens).toBe(written);
    // Past the TTL since the last use: gone, written again.
    await advance(5 * 60_000 + 1);
    const expired = await ask({ system: sys });
    expect(expired.usage.cache_read_input_tokens).toBe(0);
    expect(expired.usage.cache_creation_input_tokens).toBe(written);
    expect((await advance(-1)).status).toBe(400);
  });

  it('looks back up to 20 block boundaries from a breakpoint for a cached prefix, not further', async () => {
    const sys = (tag: string): Anthropic.TextBlockParam[] => [{ type: 'text', text: `${LONG_SYSTEM} (${tag})` }];
    const turns = (n: number): Anthropic.MessageParam[] =>
      Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}` }));
    // Writes the prefix system + first message, with its breakpoint on that message.
    const first = (tag: string) =>
      ask({
        system: sys(tag),
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'message 0', cache_control: { type: 'ephemeral' } }] },
        ],
      });
    // The same prefix and `more` blocks after it, with the only breakpoint on the last block.
    const later = (tag: string, more: number) => {
      const messages = turns(more + 1);
      messages.push({
        role: more % 2 ? 'user' : 'assistant',
        content: [{ type: 'text', text: 'the end', cache_control: { type: 'ephemeral' } }],
      });
      if (messages.at(-1)!.role === 'assistant')
        messages.push({ role: 'user', content: [{ type: 'text', text: 'the end' }] });
      return ask({ system: sys(tag), messages });
    };
    const near = (await first('near')).usage.cache_creation_input_tokens!;
    expect(near).toBeGreaterThan(1024);
    // 18 blocks between the cached boundary and the breakpoint: read through the lookback.
    expect((await later('near', 18)).usage.cache_read_input_tokens).toBe(near);
    await first('far');
    // 24 blocks between them: past the lookback, nothing is read (the whole prompt is written).
    const far = await later('far', 24);
    expect(far.usage.cache_read_input_tokens).toBe(0);
    expect(far.usage.cache_creation_input_tokens).toBeGreaterThan(near);
  });

  it('ignores a breakpoint below the model minimum', async () => {
    const short = await ask({ system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }] });
    const again = await ask({ system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }] });
    expect(short.usage.cache_creation_input_tokens).toBe(0);
    expect(again.usage.cache_read_input_tokens).toBe(0);
  });

  it('refuses more than four breakpoints and a 1-hour one after a 5-minute one', async () => {
    const block = (i: number, ttl: '5m' | '1h' = '5m'): Anthropic.TextBlockParam => ({
      type: 'text',
      text: `part ${i}`,
      cache_control: { type: 'ephemeral', ttl },
    });
    const five = await errorOf(ask({ system: [1, 2, 3, 4, 5].map((i) => block(i)) }));
    expect(five).toBeInstanceOf(Anthropic.BadRequestError);
    expect((five as InstanceType<typeof Anthropic.APIError>).message).toMatch(/maximum of 4/);
    expect(await errorOf(ask({ system: [block(1, '5m'), block(2, '1h')] }))).toBeInstanceOf(Anthropic.BadRequestError);
  });
});

describe('errors as Memoir classifies them', () => {
  it('429 with retry-after: retryable, next attempt after the delay the API asked for', async () => {
    script([{ action: { kind: 'error', status: 429, retryAfterSeconds: 2 }, times: 1 }]);
    const c = classifyModelError(await errorOf(ask()));
    expect(c).toMatchObject({ type: 'ModelRateLimited', retryable: true, status: 429, retryAfterMs: 2000 });
    expect(c.requestId).toMatch(/^req_offline_/);
    const failure = toApplicationFailure(c, 1, { baseDelayMs: 1000, maxDelayMs: 60_000 });
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(2000);
  });

  it('prefers retry-after-ms and caps any delay', async () => {
    script([{ action: { kind: 'error', status: 529, retryAfterMs: 1500, retryAfterSeconds: 9 }, times: 1 }]);
    const c = classifyModelError(await errorOf(ask()));
    expect(c).toMatchObject({ type: 'ModelOverloaded', retryable: true, retryAfterMs: 1500 });
    expect(retryDelayMs({ retryAfterMs: 120_000 }, 1, { baseDelayMs: 1000, maxDelayMs: 30_000 })).toBe(30_000);
  });

  it('backs off exponentially with jitter when the API gives no hint', () => {
    const t = { baseDelayMs: 1000, maxDelayMs: 60_000 };
    expect(retryDelayMs({ retryAfterMs: undefined }, 1, t, () => 0)).toBe(500);
    expect(retryDelayMs({ retryAfterMs: undefined }, 3, t, () => 1)).toBe(4000);
    expect(retryDelayMs({ retryAfterMs: undefined }, 20, t, () => 1)).toBe(60_000);
  });

  it.each([
    [500, 'ModelServerError', true],
    [529, 'ModelOverloaded', true],
    [400, 'ModelBadRequest', false],
    [401, 'ModelAuthenticationFailed', false],
    [403, 'ModelPermissionDenied', false],
    [413, 'ModelRequestTooLarge', false],
  ])('HTTP %i → %s (retryable: %s)', async (status, type, retryable) => {
    script([{ action: { kind: 'error', status }, times: 1 }]);
    const c = classifyModelError(await errorOf(ask()));
    expect(c).toMatchObject({ type, retryable, status });
    expect(toApplicationFailure(c, 1, { baseDelayMs: 10, maxDelayMs: 100 })).toBeInstanceOf(ApplicationFailure);
  });

  it('an unknown model is a 404 that says the model is unavailable', async () => {
    const c = classifyModelError(await errorOf(ask({ model: 'claude-retired-1' })));
    expect(c).toMatchObject({ type: 'ModelNotFound', retryable: false, status: 404 });
  });

  it('a connection cut mid-response is retryable; a body that is not a message is not', async () => {
    const client = new ModelClient(sdk, DEFAULT_PRICING);
    const request = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] };
    script([{ action: { kind: 'truncate' }, times: 1 }]);
    expect(classifyModelError(await errorOf(client.call(request)))).toMatchObject({
      type: 'ModelConnectionError',
      retryable: true,
    });
    script([{ action: { kind: 'invalid' }, times: 1 }]);
    expect(classifyModelError(await errorOf(client.call(request)))).toMatchObject({
      type: 'ModelInvalidResponse',
      retryable: false,
    });
  });

  it('a refused connection is retryable', async () => {
    const dead = createAnthropic({ apiKey: 'x', baseURL: 'http://127.0.0.1:9' });
    const c = classifyModelError(
      await errorOf(dead.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })),
    );
    expect(c).toMatchObject({ type: 'ModelConnectionError', retryable: true });
  });

  it('slow responses time out on the client as ModelTimeout', async () => {
    script([{ action: { kind: 'delay', ms: 2000 }, times: 1 }]);
    const client = new ModelClient(sdk, DEFAULT_PRICING);
    const err = await errorOf(
      client.call({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, { timeoutMs: 300 }),
    );
    expect(classifyModelError(err)).toMatchObject({ type: 'ModelTimeout', retryable: true });
  });
});

describe('held calls', () => {
  const release = (gate: unknown) => app.inject({ method: 'POST', url: '/_offline/release', payload: { gate } });

  it('a held call answers only once its gate is released; the rule after the hold still decides the answer', async () => {
    script([
      { action: { kind: 'hold', gate: 'g1' }, times: 1 },
      { action: { kind: 'reply', text: 'after the hold' }, times: 1 },
    ]);
    let answered = false;
    const call = ask().then((m) => ((answered = true), m));
    // Other calls go through meanwhile: only the held one waits.
    expect((await ask()).content[0]).toMatchObject({ type: 'text' });
    expect(answered).toBe(false);
    expect((await release('g1')).json()).toEqual({ released: 1 });
    expect((await call).content[0]).toMatchObject({ text: 'after the hold' });
  });

  it('a gate released before the call arrives does not hold it; a reset ends every hold', async () => {
    await release('early');
    script([{ action: { kind: 'hold', gate: 'early' } }]);
    await ask();
    app.script.reset();
    script([{ action: { kind: 'hold', gate: 'late' }, times: 1 }]);
    const call = ask();
    await app.inject({ method: 'POST', url: '/_offline/reset' });
    await expect(call).resolves.toMatchObject({ type: 'message' });
  });

  it('refuses a release without a gate', async () => {
    const res = await release('');
    expect(res.statusCode).toBe(400);
  });
});
