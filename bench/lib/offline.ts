/**
 * The offline model for the benchmark: Memoir's own Messages API stand-in on a loopback port, with a simulated
 * latency, plus a stopwatch on the server side. Every benchmark message carries a marker `[#<id>]`; the time the
 * server spent on each request (from receiving it to the last byte of its answer, streamed or not) is added to the
 * marker found in the request's last user message. That is "the model's own time", subtracted from a turn's
 * latency to get Memoir's overhead.
 */
import { createOfflineModel, offlineTokens } from '../../src/offline-model/server';
import { chunkText } from '../../src/offline-model/sse';
import { dialogue } from './dialogue';
import type { Rule } from '../../src/offline-model/script';

const MARKER = /\[#([A-Za-z0-9_.-]+)\]/;

/** A model that streams like a real one: the first text after `firstTokenMs`, then `tokensPerSecond`. */
export interface ModelPace {
  firstTokenMs: number;
  tokensPerSecond: number;
}

/** The default streaming pace: about what a mid-size Claude model does through the Messages API. */
export const DEFAULT_PACE: ModelPace = { firstTokenMs: 300, tokensPerSecond: 50 };

// The offline model streams text in chunks of about 16 characters cut at word boundaries (src/offline-model/sse.ts)
// and counts 4 characters a token: the tokens a chunk carries, measured on the benchmark's own replies. Before the
// first text delta it sends message_start, content_block_start and ping, each followed by the chunk delay.
const SAMPLE = dialogue({ turns: 20, seed: 1 })
  .map((t) => t.reply)
  .join(' ');
const TOKENS_PER_CHUNK = offlineTokens(SAMPLE) / chunkText(SAMPLE).length;
const EVENTS_BEFORE_FIRST_TEXT = 3;

/**
 * The offline model's knobs for a pace: a delay before the response and a delay after every streamed event. A
 * non-streamed response (the memory upkeep's calls) gets the first delay only.
 */
export function paceSettings(pace: ModelPace): { latencyMs: number; streamChunkDelayMs: number } {
  const streamChunkDelayMs = Math.round((TOKENS_PER_CHUNK / pace.tokensPerSecond) * 1000);
  return {
    latencyMs: Math.max(0, Math.round(pace.firstTokenMs - EVENTS_BEFORE_FIRST_TEXT * streamChunkDelayMs)),
    streamChunkDelayMs,
  };
}

/** Parses BENCH_MODEL_PACE, `FIRST_TOKEN_MS,TOKENS_PER_SECOND` (e.g. `300,50`); absent: the default pace. */
export function parsePace(value: string | undefined): ModelPace {
  if (value === undefined || value.trim() === '') return DEFAULT_PACE;
  const m = /^\s*(\d+)\s*,\s*(\d+(?:\.\d+)?)\s*$/.exec(value);
  const pace = m ? { firstTokenMs: Number(m[1]), tokensPerSecond: Number(m[2]) } : undefined;
  if (!pace || pace.tokensPerSecond <= 0)
    throw new Error(`BENCH_MODEL_PACE must be FIRST_TOKEN_MS,TOKENS_PER_SECOND (e.g. 300,50), got "${value}"`);
  return pace;
}

/** `[#id] text`: a message the model-time stopwatch can attribute. */
export const marked = (id: string, text: string) => `[#${id}] ${text}`;

export interface BenchModel {
  url: string;
  latencyMs: number;
  /** Milliseconds the model spent on requests for this marker (0 if it saw none). */
  modelMs(marker: string): number;
  /** How many requests carried this marker. */
  requestsFor(marker: string): number;
  script(rules: Rule[]): Promise<void>;
  /** Streams at this pace from now on (kept across reset); undefined: answers at once after `latencyMs` again. */
  setPace(pace: ModelPace | undefined): Promise<void>;
  /** Moves the prompt cache's clock forward (entries expire as if that much time had passed). */
  advanceClock(ms: number): Promise<void>;
  /** Forgets the prompt cache, the script and the stopwatch; keeps the configured latency and pace. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

interface Timed {
  ms: number;
  requests: number;
}

function lastUserText(body: unknown): string {
  const messages = (body as { messages?: { role: string; content: unknown }[] } | undefined)?.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.map((b: { text?: string }) => b.text ?? '').join('\n');
  }
  return '';
}

export async function startBenchModel(latencyMs: number): Promise<BenchModel> {
  const app = createOfflineModel();
  const timings = new Map<string, Timed>();
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/v1/messages') || req.url.includes('count_tokens')) return;
    const started = performance.now();
    reply.raw.once('finish', () => {
      const marker = MARKER.exec(lastUserText(req.body))?.[1];
      if (!marker) return;
      const t = timings.get(marker) ?? { ms: 0, requests: 0 };
      t.ms += performance.now() - started;
      t.requests++;
      timings.set(marker, t);
    });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const post = async (route: string, body: unknown) => {
    const res = await fetch(`${url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`offline model ${route}: ${res.status} ${await res.text()}`);
  };
  let timing = { latencyMs, streamChunkDelayMs: 0 };
  await post('/_offline/script', { rules: [], ...timing });
  return {
    url,
    latencyMs,
    modelMs: (marker) => timings.get(marker)?.ms ?? 0,
    requestsFor: (marker) => timings.get(marker)?.requests ?? 0,
    // In process, not over HTTP: the load generator scripts every turn's reply, and its CPU is measured with it.
    script: async (rules) => app.script.add(rules),
    async setPace(pace) {
      timing = pace ? paceSettings(pace) : { latencyMs, streamChunkDelayMs: 0 };
      await post('/_offline/script', { rules: [], ...timing });
    },
    advanceClock: (ms) => post('/_offline/clock', { advanceMs: ms }),
    async reset() {
      await post('/_offline/reset', {});
      await post('/_offline/script', { rules: [], ...timing });
      timings.clear();
    },
    close: () => app.close(),
  };
}
