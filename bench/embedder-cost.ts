/**
 * What an embedder costs to index with (a developer tool, like bench/tune-recall.ts): embeds every message of the
 * LoCoMo dev split as the semantic tier does (batches of 64 documents, BatchingEmbedder's default) and prints the
 * time per 1,000 messages and the resident memory the embedder added to the process. One embedder per process, so
 * the memory figure is its own: run it once per embedder.
 *
 *   npx tsx bench/embedder-cost.ts local
 *   npx tsx bench/embedder-cost.ts minilm [threads]
 *   EMBED_LIMIT=1000 npx tsx bench/embedder-cost.ts minilm 1
 */
import os from 'node:os';
import { LocalEmbedder } from '../src/memory/embedders/local';
import { DEFAULT_MINILM_DIR, MiniLmEmbedder } from '../src/memory/embedders/minilm';
import type { Embedder } from '../src/memory/types';
import { loadLocomo } from './lib/locomo';
import { DEFAULT_LOCOMO_PATH, exchanges } from './suites/locomo';

const BATCH = 64;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

async function run(): Promise<void> {
  const [which = 'minilm', threads] = process.argv.slice(2);
  // EMBED_LIMIT: the first n messages only (a quicker look; the RSS peak may then be lower).
  const texts = loadLocomo(process.env.LOCOMO_PATH ?? DEFAULT_LOCOMO_PATH)
    .flatMap((c) => exchanges(c).flatMap((e) => [e.user, e.reply]))
    .slice(0, Number(process.env.EMBED_LIMIT ?? Infinity));
  const before = process.memoryUsage().rss;
  const embedder: Embedder =
    which === 'local'
      ? new LocalEmbedder()
      : new MiniLmEmbedder({ modelDir: DEFAULT_MINILM_DIR, ...(threads ? { threads: Number(threads) } : {}) });
  // Loading the model is a start-up cost, not an indexing one.
  const loadStart = performance.now();
  await embedder.embed(['warm up'], 'query');
  const loadMs = performance.now() - loadStart;
  const loaded = process.memoryUsage().rss;
  let peak = loaded;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < texts.length; i += BATCH) {
    await embedder.embed(texts.slice(i, i + BATCH), 'document');
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const queryStart = performance.now();
  for (const t of texts.slice(0, 50)) await embedder.embed([t], 'query');
  const queryMs = (performance.now() - queryStart) / 50;
  const tokens = texts.reduce((n, t) => n + t.split(/\s+/).length, 0) / texts.length;
  console.log(
    `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} cores; ${tokens.toFixed(0)} words a message`,
  );
  console.log(
    `${embedder.id}${threads ? ` threads=${threads}` : ''}: ${texts.length} messages in ${(ms / 1000).toFixed(1)} s = ` +
      `${((ms / texts.length) * 1000).toFixed(0)} ms per 1,000 wall, ${((cpuMs / texts.length) * 1000).toFixed(0)} ms ` +
      `CPU (batches of ${BATCH}); one query ${queryMs.toFixed(1)} ms; ` +
      `load ${loadMs.toFixed(0)} ms; RSS +${mb(loaded - before)} MB loaded, +${mb(peak - before)} MB at peak ` +
      `(process ${mb(peak)} MB)`,
  );
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
