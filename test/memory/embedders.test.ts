/**
 * The HTTP embedders against local servers that speak Voyage's and OpenAI's embeddings protocols (request and
 * response shapes as the providers document them), the batching wrapper counted on such a server, and the Redis
 * L2 cache on the real test Redis.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { BatchingEmbedder, embeddingCacheKey } from '../../src/memory/embedders/batching';
import { LocalEmbedder } from '../../src/memory/embedders/local';
import { EmbeddingError, OpenAICompatibleEmbedder } from '../../src/memory/embedders/openai-compatible';
import { decodeVector, RedisEmbeddingCache } from '../../src/memory/embedders/redis-cache';
import { VoyageEmbedder } from '../../src/memory/embedders/voyage';
import { TEST_SERVICES } from '../helpers/services';

const DIMS = 64;
const reference = new LocalEmbedder({ dimensions: DIMS });

// Request bodies as the providers document them; `.strict()` fails a request carrying a field they do not know.
const voyageRequest = z
  .object({
    input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(1000)]),
    model: z.string(),
    input_type: z.enum(['query', 'document']).nullish(),
    truncation: z.boolean().optional(),
    output_dimension: z.number().int().nullish(),
    output_dtype: z.enum(['float', 'int8', 'uint8', 'binary', 'ubinary']).optional(),
  })
  .strict();
const openaiRequest = z
  .object({
    input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)]),
    model: z.string(),
    encoding_format: z.enum(['float', 'base64']).optional(),
    dimensions: z.number().int().optional(),
    user: z.string().optional(),
  })
  .strict();

interface FakeFailure {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** An embeddings server; its vectors are the local embedder's, answered in shuffled order with their `index`. */
async function fakeProvider(flavour: 'voyage' | 'openai', apiKey: string | null) {
  const app = Fastify();
  const requests: { authorization: string | undefined; body: any }[] = [];
  const control = { fail: null as FakeFailure | null, delayMs: 0, dimensions: DIMS };
  app.post('/v1/embeddings', async (req, reply) => {
    requests.push({ authorization: req.headers.authorization, body: req.body });
    if (control.delayMs) await new Promise((r) => setTimeout(r, control.delayMs));
    if (control.fail)
      return reply
        .code(control.fail.status)
        .headers(control.fail.headers ?? {})
        .send(control.fail.body);
    if (apiKey !== null && req.headers.authorization !== `Bearer ${apiKey}`) {
      return reply.code(401).send(
        flavour === 'voyage'
          ? { detail: 'Provided API key is invalid.' }
          : {
              error: {
                message: 'Incorrect API key provided',
                type: 'invalid_request_error',
                code: 'invalid_api_key',
              },
            },
      );
    }
    const parsed = (flavour === 'voyage' ? voyageRequest : openaiRequest).safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ detail: parsed.error.message });
    const inputs = typeof parsed.data.input === 'string' ? [parsed.data.input] : parsed.data.input;
    const local = new LocalEmbedder({ dimensions: control.dimensions });
    const data = inputs.map((text, index) => ({ object: 'embedding', embedding: local.embedOne(text), index }));
    // Odd indexes first, then even ones backwards: nothing promises the order on the wire.
    const shuffled = [...data.filter((d) => d.index % 2 === 1), ...data.filter((d) => d.index % 2 === 0).reverse()];
    const tokens = inputs.join(' ').split(/\s+/).length;
    return {
      object: 'list',
      data: shuffled,
      model: parsed.data.model,
      usage: flavour === 'voyage' ? { total_tokens: tokens } : { prompt_tokens: tokens, total_tokens: tokens },
    };
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `${url}/v1`, requests, control, close: () => app.close() };
}

type Provider = Awaited<ReturnType<typeof fakeProvider>>;

/** A fake provider for the enclosing describe block, with its requests and controls reset before each test. */
function useFakeProvider(flavour: 'voyage' | 'openai', apiKey: string | null, use: (server: Provider) => void): void {
  let server: Provider;
  beforeAll(async () => use((server = await fakeProvider(flavour, apiKey))));
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    Object.assign(server.control, { fail: null, delayMs: 0, dimensions: DIMS });
  });
}
const texts = ['first text about cats', 'second, on dogs', 'third: birds', 'fourth, fish', 'fifth is frogs'];

describe('VoyageEmbedder', () => {
  let server: Provider;
  useFakeProvider('voyage', 'vk-test', (s) => (server = s));

  it('sends the documented request and returns vectors in input order', async () => {
    const voyage = new VoyageEmbedder({ apiKey: 'vk-test', baseUrl: server.url, dimensions: DIMS });
    expect(voyage.id).toBe(`voyage:voyage-3.5:${DIMS}`);
    expect(await voyage.embed(texts, 'document')).toEqual(texts.map((t) => reference.embedOne(t)));
    await voyage.embed(['a question?'], 'query');
    expect(server.requests.map((r) => r.authorization)).toEqual(['Bearer vk-test', 'Bearer vk-test']);
    expect(server.requests[0]!.body).toEqual({
      model: 'voyage-3.5',
      input: texts,
      input_type: 'document',
      truncation: true,
      output_dimension: DIMS,
    });
    expect(server.requests[1]!.body.input_type).toBe('query');
  });

  it('splits large calls by input count and by approximate tokens', async () => {
    const byCount = new VoyageEmbedder({
      apiKey: 'vk-test',
      baseUrl: server.url,
      dimensions: DIMS,
      maxInputsPerRequest: 2,
    });
    expect(await byCount.embed(texts, 'document')).toEqual(texts.map((t) => reference.embedOne(t)));
    expect(server.requests.map((r) => r.body.input.length)).toEqual([2, 2, 1]);

    server.requests.length = 0;
    const long = ['x'.repeat(400), 'y'.repeat(400), 'z'.repeat(400)]; // 100 approximate tokens each
    const byTokens = new VoyageEmbedder({
      apiKey: 'vk-test',
      baseUrl: server.url,
      dimensions: DIMS,
      maxTokensPerRequest: 250,
    });
    await byTokens.embed(long, 'document');
    expect(server.requests.map((r) => r.body.input.length)).toEqual([2, 1]);
  });

  it('turns error statuses into clear errors that say whether to retry', async () => {
    const wrongKey = new VoyageEmbedder({ apiKey: 'nope', baseUrl: server.url, dimensions: DIMS });
    const err = await wrongKey.embed(['x'], 'query').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddingError);
    expect(err).toMatchObject({ provider: 'voyage', status: 401, retryable: false });
    expect((err as Error).message).toMatch(/answered 401: Provided API key is invalid\./);

    const voyage = new VoyageEmbedder({ apiKey: 'vk-test', baseUrl: server.url, dimensions: DIMS });
    server.control.fail = { status: 429, body: { detail: 'Rate limit exceeded' }, headers: { 'retry-after': '3' } };
    await expect(voyage.embed(['x'], 'query')).rejects.toMatchObject({
      status: 429,
      retryable: true,
      retryAfterMs: 3000,
    });
    server.control.fail = { status: 503, body: 'upstream down' };
    await expect(voyage.embed(['x'], 'query')).rejects.toThrow(/answered 503: upstream down/);
    server.control.fail = null;
    await expect(voyage.embed(['ok', '  '], 'query')).rejects.toThrow(/text 1 is empty/);
  });

  it('times out, and refuses vectors of the wrong dimension', async () => {
    server.control.delayMs = 300;
    const impatient = new VoyageEmbedder({ apiKey: 'vk-test', baseUrl: server.url, dimensions: DIMS, timeoutMs: 50 });
    await expect(impatient.embed(['x'], 'query')).rejects.toMatchObject({
      retryable: true,
      message: expect.stringMatching(/timed out after 50 ms/),
    });
    server.control.delayMs = 0;
    const expects1024 = new VoyageEmbedder({ apiKey: 'vk-test', baseUrl: server.url });
    await expect(expects1024.embed(['x'], 'query')).rejects.toThrow(/got 64-dimensional vectors, configured for 1024/);
    expect(server.requests.at(-1)!.body).not.toHaveProperty('output_dimension');
  });
});

describe('OpenAICompatibleEmbedder', () => {
  let server: Provider;
  useFakeProvider('openai', null, (s) => (server = s));

  it('speaks /v1/embeddings, with prefixes for query and document models', async () => {
    const ollama = new OpenAICompatibleEmbedder({
      baseUrl: `${server.url}/`,
      model: 'nomic-embed-text',
      dimensions: DIMS,
      queryPrefix: 'search_query: ',
      documentPrefix: 'search_document: ',
    });
    const vectors = await ollama.embed(texts, 'document');
    expect(vectors).toEqual(texts.map((t) => reference.embedOne(`search_document: ${t}`)));
    await ollama.embed(['where are the cats?'], 'query');
    expect(server.requests[0]!.authorization).toBeUndefined();
    expect(server.requests[0]!.body).toEqual({
      model: 'nomic-embed-text',
      input: texts.map((t) => `search_document: ${t}`),
      encoding_format: 'float',
    });
    expect(server.requests[1]!.body.input).toEqual(['search_query: where are the cats?']);
  });

  it('sends an API key and the dimensions when asked to', async () => {
    const openai = new OpenAICompatibleEmbedder({
      baseUrl: server.url,
      apiKey: 'sk-test',
      model: 'text-embedding-3-small',
      dimensions: DIMS,
      requestDimensions: true,
    });
    await openai.embed(['x'], 'document');
    expect(server.requests[0]).toMatchObject({ authorization: 'Bearer sk-test', body: { dimensions: DIMS } });
  });

  it('reports OpenAI-style and TEI-style errors, and unreachable servers', async () => {
    const embedder = new OpenAICompatibleEmbedder({ baseUrl: server.url, model: 'm', dimensions: DIMS });
    server.control.fail = { status: 400, body: { error: { message: 'maximum context length exceeded' } } };
    await expect(embedder.embed(['x'], 'document')).rejects.toMatchObject({
      status: 400,
      retryable: false,
      message: expect.stringMatching(/answered 400: maximum context length exceeded/),
    });
    server.control.fail = {
      status: 413,
      body: { error: 'batch size 40 > maximum allowed batch size 32', error_type: 'Validation' },
    };
    await expect(embedder.embed(['x'], 'document')).rejects.toThrow(/413: batch size 40/);

    const closed = Fastify();
    const deadUrl = await closed.listen({ host: '127.0.0.1', port: 0 });
    await closed.close();
    const unreachable = new OpenAICompatibleEmbedder({ baseUrl: `${deadUrl}/v1`, model: 'm', dimensions: DIMS });
    await expect(unreachable.embed(['x'], 'document')).rejects.toMatchObject({
      retryable: true,
      message: expect.stringMatching(/failed: ECONNREFUSED/),
    });
  });

  it('rejects a response that lacks a vector', async () => {
    server.control.fail = { status: 200, body: { object: 'list', data: [{ index: 0, embedding: [1, 2] }] } };
    const embedder = new OpenAICompatibleEmbedder({ baseUrl: server.url, model: 'm', dimensions: 2 });
    await expect(embedder.embed(['a', 'b'], 'document')).rejects.toThrow(/lacks the vector of input 1/);
    server.control.fail = { status: 200, body: { data: 'nope' } };
    await expect(embedder.embed(['a'], 'document')).rejects.toThrow(/unexpected response/);
  });
});

describe('BatchingEmbedder', () => {
  let server: Provider;
  useFakeProvider('openai', null, (s) => (server = s));
  const inner = () =>
    new OpenAICompatibleEmbedder({ baseUrl: server.url, model: 'm', dimensions: DIMS, maxInputsPerRequest: 64 });
  const hundred = Array.from({ length: 100 }, (_, i) => `message number ${i} about topic ${i % 7}`);

  it('coalesces 100 concurrent calls into a few requests and never re-requests a cached text', async () => {
    const batching = new BatchingEmbedder(inner(), { maxBatch: 32, maxWaitMs: 20 });
    const vectors = await Promise.all(hundred.map((t) => batching.embed([t], 'document')));
    expect(vectors.map((v) => v[0])).toEqual(hundred.map((t) => reference.embedOne(t)));
    // The four requests run concurrently, so they may arrive in any order.
    expect(server.requests.map((r) => r.body.input.length).sort((a, b) => b - a)).toEqual([32, 32, 32, 4]);

    await Promise.all(hundred.map((t) => batching.embed([t], 'document')));
    expect(server.requests).toHaveLength(4);
    expect(batching.stats()).toMatchObject({ texts: 200, l1Hits: 100, batches: 4, embedded: 100 });

    // The kind is part of the key: the same text as a query is a new request.
    await batching.embed([hundred[0]!], 'query');
    expect(server.requests).toHaveLength(5);
  });

  it('sends a text asked for twice at once only once, and flushes a partial batch after maxWaitMs', async () => {
    const batching = new BatchingEmbedder(inner(), { maxBatch: 50, maxWaitMs: 30 });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => batching.embed(['same text', 'other'], 'document')),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(server.requests.map((r) => r.body.input)).toEqual([['same text', 'other']]);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(batching.stats().joined).toBe(18);
  });

  it('sends a query without waiting for a batch to fill, and still coalesces queries asked for together', async () => {
    // A document batch would wait ten minutes here: a turn's query embedding must not.
    const batching = new BatchingEmbedder(inner(), { maxBatch: 50, maxWaitMs: 600_000 });
    expect(await batching.embed(['what did I say about cats?'], 'query')).toEqual([
      reference.embedOne('what did I say about cats?'),
    ]);
    await Promise.all(['a', 'b', 'c'].map((t) => batching.embed([t], 'query')));
    expect(server.requests.map((r) => r.body.input)).toEqual([['what did I say about cats?'], ['a', 'b', 'c']]);
  });

  it('rejects every caller of a failed batch, and caches nothing from it', async () => {
    const batching = new BatchingEmbedder(inner(), { maxBatch: 8, maxWaitMs: 5 });
    server.control.fail = { status: 500, body: { error: { message: 'boom' } } };
    const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((t) => batching.embed([t], 'document')));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(EmbeddingError);
    server.control.fail = null;
    expect(await batching.embed(['a'], 'document')).toEqual([reference.embedOne('a')]);
    expect(server.requests).toHaveLength(2);
  });

  it('keeps a blank text from failing the batch it would have joined', async () => {
    const batching = new BatchingEmbedder(inner(), { maxBatch: 8, maxWaitMs: 5 });
    const [good, blank] = await Promise.allSettled([
      batching.embed(['fine'], 'document'),
      batching.embed([' '], 'document'),
    ]);
    expect(good.status).toBe('fulfilled');
    expect((blank as PromiseRejectedResult).reason).toMatchObject({ message: expect.stringMatching(/empty/) });
  });

  describe('with the Redis L2 cache', () => {
    const redis = new Redis(TEST_SERVICES.redisUrl);
    const prefix = `memoir-test:${randomBytes(4).toString('hex')}:`;
    afterAll(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    it('shares vectors between processes: a fresh L1 is filled from Redis, not from the provider', async () => {
      const l2 = new RedisEmbeddingCache(redis, { prefix });
      const first = new BatchingEmbedder(inner(), { maxBatch: 64, l2, l2TtlSeconds: 600 });
      const original = await first.embed(hundred, 'document');
      await first.drain();
      const requestsBefore = server.requests.length;

      const key = embeddingCacheKey(first.id, 'document', hundred[0]!);
      const stored = await redis.get(prefix + key);
      // Float32 bytes in base64: 4 bytes a dimension, a quarter of what JSON would take.
      expect(Buffer.from(stored!, 'base64')).toHaveLength(DIMS * 4);
      expect(await redis.ttl(prefix + key)).toBeGreaterThan(590);

      const elsewhere = RedisEmbeddingCache.fromUrl(TEST_SERVICES.redisUrl, { prefix });
      const second = new BatchingEmbedder(inner(), { l2: elsewhere });
      const again = await second.embed(hundred, 'document');
      await elsewhere.close();
      expect(server.requests).toHaveLength(requestsBefore);
      expect(second.stats()).toMatchObject({ l2Hits: 100, batches: 0 });
      again.forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(original[i]![j]!, 6)));
    });

    it('keeps embedding when Redis is unreachable', async () => {
      const errors: unknown[] = [];
      const dead = RedisEmbeddingCache.fromUrl('redis://127.0.0.1:1');
      const batching = new BatchingEmbedder(inner(), { l2: dead, onCacheError: (e) => errors.push(e) });
      expect(await batching.embed(['still works'], 'document')).toEqual([reference.embedOne('still works')]);
      await batching.drain();
      expect(errors.length).toBeGreaterThanOrEqual(2);
      await dead.close();
    });

    it('round-trips vectors through the compact encoding', async () => {
      const l2 = new RedisEmbeddingCache(redis, { prefix });
      await l2.set('roundtrip', [0.5, -1.25, 3], 60);
      expect(await l2.get('roundtrip')).toEqual([0.5, -1.25, 3]);
      expect(await l2.get('missing')).toBeUndefined();
      expect(decodeVector(Buffer.from(new Float32Array([1, 2]).buffer).toString('base64'))).toEqual([1, 2]);
    });
  });
});
