/**
 * The load generator's turn under load: a 503 with Retry-After is an answer the API documents as "send the same
 * message again", so the scale suite retries it (and counts it) instead of aborting the run. A real HTTP server
 * stands in for the API; its Retry-After is 0 s so the test waits for nothing.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { httpCaller } from '../../bench/lib/http';
import { postTurn } from '../../bench/lib/load';
import { windowFigures } from '../../bench/lib/window';

let app: FastifyInstance;
let baseUrl: string;
/** Per messageId: how many more times to answer 503, and every messageId received, in order. */
const unavailable = new Map<string, number>();
const received: string[] = [];

beforeAll(async () => {
  app = Fastify();
  app.post<{ Body: { messageId: string; content: string } }>('/v1/conversations/:id/messages', async (req, reply) => {
    const { messageId } = req.body;
    received.push(messageId);
    const left = unavailable.get(messageId) ?? 0;
    if (left > 0) {
      unavailable.set(messageId, left - 1);
      const retryAfter = messageId.startsWith('plain') ? {} : { 'retry-after': '0' };
      return reply
        .code(503)
        .headers(retryAfter)
        .send({ error: { code: 'unavailable', message: 'retry with the same messageId' } });
    }
    if (messageId === 'bad') return reply.code(500).send({ error: { code: 'internal', message: 'boom' } });
    return { messageId, reply: 'ok', usage: { inputTokens: 1 } };
  });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());
beforeEach(() => {
  unavailable.clear();
  received.length = 0;
});

describe('postTurn', () => {
  it('sends the same message again after a 503 with Retry-After and counts the retries', async () => {
    unavailable.set('m1', 2);
    const { answer, retries } = await postTurn(httpCaller(baseUrl, 'k'), 'c1', { content: 'hi', messageId: 'm1' });
    expect(answer.status).toBe(200);
    expect(answer.body.reply).toBe('ok');
    expect(retries).toBe(2);
    expect(received).toEqual(['m1', 'm1', 'm1']);
  });

  it('gives up after the most retries it allows', async () => {
    unavailable.set('m2', 10);
    await expect(postTurn(httpCaller(baseUrl, 'k'), 'c1', { content: 'hi', messageId: 'm2' }, 3)).rejects.toThrow(
      /503.*after 3 retries/,
    );
    expect(received).toHaveLength(4);
  });

  it('fails at once on an error that is not a 503 with Retry-After', async () => {
    await expect(postTurn(httpCaller(baseUrl, 'k'), 'c1', { content: 'hi', messageId: 'bad' })).rejects.toThrow(
      /turn failed: 500/,
    );
    unavailable.set('plain', 1);
    await expect(postTurn(httpCaller(baseUrl, 'k'), 'c1', { content: 'hi', messageId: 'plain' })).rejects.toThrow(
      /turn failed: 503/,
    );
    expect(received).toEqual(['bad', 'plain']);
  });
});

describe('retries in the throughput window', () => {
  it('adds up the retries of the turns that end inside the window only', () => {
    const spans = [
      { startMs: 0, endMs: 900, retries: 4 }, // warm-up
      { startMs: 900, endMs: 1_500, retries: 1 },
      { startMs: 1_500, endMs: 2_500 },
      { startMs: 1_600, endMs: 2_700, retries: 2 },
    ];
    expect(windowFigures(spans, 1_000, 3_000, 2).retries).toBe(3);
  });
});
