/**
 * Where the time inside one `generateReply` attempt goes, on the test services (scripts/services.sh): an in-process
 * worker, API and client (test/helpers/stack.ts), N sequential turns on one conversation, and per turn the spans of
 * the steps the attempt awaits, each as [start, end] in ms from the activity function's start (median over turns):
 * context assembly and its reads, the model call (split at the response's headers: the rest is SSE parsing and the
 * offline model streaming), the stream bus, the stored turn's statement, the hot tier's write-through, the manifest.
 * The spans are taken by wrapping the classes' methods here, so the code measured is the code shipped.
 * A profiling aid, not a benchmark (bench/ owns the figures); compare runs taken in the same minute.
 *
 *   npx tsx scripts/time-reply.ts [--turns 40] [--listen]
 *
 * `--listen` keeps an SSE-like subscriber on each turn's stream (as the API does for a streaming client).
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Context } from '@temporalio/activity';
import { startStack, uniqueId } from '../test/helpers/stack';
import { WORKFLOW_BUNDLE_PATH } from '../test/helpers/services';
import { writePrebuiltBundle } from '../src/temporal/bundle';
import { isBundleFresh } from '../src/temporal/bundle-freshness';
import { ModelClient } from '../src/model/client';
import { RedisStreamBus } from '../src/streaming/redis-bus';
import type { StreamBus } from '../src/streaming/bus';
import { ConversationStore } from '../src/storage/conversations';
import { ManifestStore } from '../src/storage/manifests';
import { LlmCallStore } from '../src/storage/llm-calls';
import { RedisHotTier } from '../src/memory/hot-tier';
import { ContextAssembler } from '../src/context/assembler';

const { values: args } = parseArgs({
  options: { turns: { type: 'string', default: '40' }, listen: { type: 'boolean', default: false } },
});
const TURNS = Number(args.turns);
const WARMUP = 3;

/** Spans of the attempt running now, by name: [start, end] in ms from the activity function's start. */
type Spans = Map<string, [number, number]>;
const running = new Map<string, { t0: number; spans: Spans }>();
let recording = false;
const measured: Spans[] = [];

const attemptKey = (): string | undefined => {
  try {
    const { activityType, activityId, workflowExecution, attempt, isLocal } = Context.current().info;
    if (activityType !== 'generateReply' || isLocal) return undefined;
    return `${workflowExecution?.runId}/${activityId}/${attempt}`;
  } catch {
    return undefined;
  }
};

function span(name: string, from: number, to: number): void {
  const key = attemptKey();
  const run = key ? running.get(key) : undefined;
  if (!run) return;
  let unique = name;
  for (let i = 2; run.spans.has(unique); i++) unique = `${name} #${i}`;
  run.spans.set(unique, [from - run.t0, to - run.t0]);
}

/** Replaces `proto[method]` by a version that records its span under `name` (async methods only). */
function wrap(proto: object, method: string, name = method): void {
  const target = proto as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const original = target[method]!;
  target[method] = function (this: unknown, ...a: unknown[]) {
    const started = performance.now();
    const out = original.apply(this, a);
    const done = () => span(name, started, performance.now());
    out.then(done, done);
    return out;
  };
}

// The activity function itself, and the whole task (its result's encoding included).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker's internal class, patched for timing
const { Activity } = require('@temporalio/worker/lib/activity') as {
  Activity: { prototype: Record<string, (...a: unknown[]) => Promise<unknown>> };
};
const execute = Activity.prototype.execute!;
Activity.prototype.execute = async function (this: unknown, ...a: unknown[]) {
  const key = attemptKey();
  const t0 = performance.now();
  if (key && recording) running.set(key, { t0, spans: new Map() });
  try {
    return await execute.apply(this, a);
  } finally {
    const run = key ? running.get(key) : undefined;
    if (run && key) {
      run.spans.set('activity function', [0, performance.now() - t0]);
      running.delete(key);
      measured.push(run.spans);
    }
  }
};

// The model call's HTTP response headers: what is left of the call is reading and parsing its SSE stream.
const fetch0 = globalThis.fetch;
globalThis.fetch = async (...a: Parameters<typeof fetch>) => {
  const started = performance.now();
  const res = await fetch0(...a);
  span('  fetch → headers', started, performance.now());
  return res;
};

wrap(ContextAssembler.prototype, 'assemble', 'context: assemble');
wrap(ConversationStore.prototype, 'findTurn', 'store: findTurn');
wrap(ConversationStore.prototype, 'get', 'store: conversation row');
wrap(ConversationStore.prototype, 'erasedSince', 'store: erasure fence');
wrap(ConversationStore.prototype, 'persistTurn', 'store: persistTurn statement');
wrap(ManifestStore.prototype, 'save', 'manifest: save');
wrap(LlmCallStore.prototype, 'spentToday', 'ledger: spentToday');
wrap(LlmCallStore.prototype, 'record', 'ledger: record');
wrap(ModelClient.prototype, 'call', 'model: call (SDK + offline server)');
wrap(RedisStreamBus.prototype, 'startAttempt', 'stream: startAttempt');
wrap(RedisStreamBus.prototype, 'publish', 'stream: publish');
wrap(RedisHotTier.prototype, 'append', 'hot tier: append');
wrap(RedisHotTier.prototype, 'since', 'hot tier: since');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};

async function main(): Promise<void> {
  if (!isBundleFresh(WORKFLOW_BUNDLE_PATH)) await writePrebuiltBundle('plain');
  const stack = await startStack({ env: { MEMOIR_LOG_LEVEL: 'info' } });
  try {
    const { memoir, streams } = stack.serving.services;
    const tenant = stack.tenants.acme;
    const conversationId = uniqueId('time');
    const rtts: number[] = [];
    for (let i = 0; i < WARMUP + TURNS; i++) {
      recording = i >= WARMUP;
      const messageId = `m${i}-${uniqueId('x')}`;
      const content = `Turn ${i}: I moved to Lisbon in ${2000 + i} and I like tea with lemon number ${i}.`;
      const stop = new AbortController();
      const channel = { tenantId: tenant.id, conversationId, messageId };
      // Marked as the API marks a streamed turn (optional: code before the mark published every turn).
      if (args.listen) await (streams as Partial<StreamBus>).listen?.(channel);
      const listening =
        args.listen && streams ? streams.subscribe(channel, undefined, () => {}, stop.signal) : undefined;
      const started = performance.now();
      await memoir.sendMessage(tenant.id, conversationId, { messageId, content });
      if (recording) rtts.push(performance.now() - started);
      stop.abort();
      await listening;
    }
    const names = new Set(measured.flatMap((s) => [...s.keys()]));
    const rows = [...names].map((name) => {
      const have = measured.filter((s) => s.has(name));
      return {
        name,
        n: have.length / measured.length,
        from: median(have.map((s) => s.get(name)![0])),
        to: median(have.map((s) => s.get(name)![1])),
        ms: median(have.map((s) => s.get(name)![1] - s.get(name)![0])),
      };
    });
    const fn = measured.map((s) => s.get('activity function')![1]).sort((a, b) => a - b);
    const q = (p: number) => fn[Math.floor(p * (fn.length - 1))]!.toFixed(2);
    console.log(`\n${measured.length} generateReply attempts; round trip p50 ${median(rtts).toFixed(1)} ms`);
    console.log(`activity function p10 ${q(0.1)} p25 ${q(0.25)} p50 ${q(0.5)} p75 ${q(0.75)} ms`);
    console.log(
      `${'span'.padEnd(40)} ${'per turn'.padStart(8)} ${'start'.padStart(7)} ${'end'.padStart(7)} ${'ms'.padStart(7)}`,
    );
    for (const r of rows.sort((a, b) => a.from - b.from || b.to - a.to))
      console.log(
        `${r.name.padEnd(40)} ${r.n.toFixed(2).padStart(8)} ${r.from.toFixed(2).padStart(7)} ${r.to.toFixed(2).padStart(7)} ${r.ms.toFixed(2).padStart(7)}`,
      );
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
