/**
 * CPU per turn, per process, over a fixed number of turns at a fixed concurrency: where a turn's CPU goes across
 * the whole machine (issue 14: 60 turns/s on 2 cores leaves ~33 ms of CPU per turn for everything).
 *
 *   npx tsx scripts/cpu-per-turn.ts [--open 100] [--turns 600] [--warmup 100] [--concurrency 32] [--think-ms 1000]
 *     [--background-s 10] [--shared-services] [--pg-statements] [--cpu-prof DIR]
 *
 * It runs the benchmark's own stack (bench/lib: a worker and an API process, the durable Temporal and PostgreSQL
 * unless --shared-services, the offline model in this process), opens `--open` conversations with one turn each,
 * warms up, then reads utime + stime (and, for PostgreSQL and Temporal, the reaped children's time) from /proc before
 * and after `--turns` turns and divides by the turns. Redis and Weaviate are the shared test services: their rate in
 * `--background-s` seconds without turns of ours (other users' work) is subtracted, a rough estimate. After the last
 * turn it follows our processes until they go quiet and prints the CPU per turn again with that tail: upkeep the
 * turns started (indexing, facts, compaction) that a short burst would otherwise leave out.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { dialogue } from '../bench/lib/dialogue';
import { durableInfra, sharedInfra, type BenchInfra } from '../bench/lib/infra';
import { closedLoop, createConversation, sendTurn } from '../bench/lib/load';
import { startBenchModel } from '../bench/lib/offline';
import { bundleWorkflows, startBenchStack, type BenchStack } from '../bench/lib/stack';
import { findPid, machineBusyMs, procTimes, serverPids, treeCpuMs } from '../bench/lib/proc';
import { nextConversation, type ThinkClock } from '../bench/lib/think';
import { TEST_SERVICES } from '../test/helpers/services';

const TEXT = dialogue({ turns: 64, seed: 11 });

/** CPU (ms) of each thread of a process by tid, with its name (/proc/PID/task/TID/comm). */
function threadCpuMs(pid: number): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    // /proc/PID/task/TID/stat is the thread's own time (/proc/TID/stat would be the whole process's).
    const t = procTimes(Number(tid), `/proc/${pid}/task/${tid}/stat`);
    if (!t) continue;
    let name = '?';
    try {
      name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      // exited meanwhile
    }
    // Node leaves its worker threads (the workflow sandbox), V8's helpers and libuv's pool all named "node": tell
    // them apart by tid.
    out.set(Number(tid), {
      name: Number(tid) === pid ? 'main' : name === 'node' ? `node tid ${tid}` : name,
      ms: t.own,
    });
  }
  return out;
}

/** Per-thread-name CPU per turn between two readings (threads that came and went are missed: a lower bound). */
function threadBreakdown(before: Map<number, { name: string; ms: number }>, after: typeof before, turns: number) {
  const byName = new Map<string, number>();
  for (const [tid, a] of after) {
    const ms = a.ms - (before.get(tid)?.ms ?? 0);
    byName.set(a.name, (byName.get(a.name) ?? 0) + ms / turns);
  }
  return [...byName].filter(([, ms]) => ms >= 0.05).sort((a, b) => b[1] - a[1]);
}

interface Target {
  name: string;
  cpuMs(): number;
  /** Resident memory now (MiB), where one process is measured. */
  rss?: () => number;
  /** Shared with other users of the machine: their background rate is measured and subtracted. */
  shared?: boolean;
}

function rssMiB(pid: number): number {
  const kib = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib ?? NaN) / 1024;
}

function environ(pid: number): Record<string, string> {
  try {
    const pairs = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  } catch {
    return {};
  }
}

function targets(stack: BenchStack, infra: BenchInfra): Target[] {
  const out: Target[] = [
    { name: 'worker', cpuMs: () => stack.worker.cpuMs(), rss: () => stack.worker.rss() / 2 ** 20 },
    { name: 'api', cpuMs: () => stack.api.cpuMs(), rss: () => stack.api.rss() / 2 ** 20 },
    {
      name: 'load generator + offline model (this process)',
      cpuMs: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      },
    },
  ];
  const { temporal, postmaster } = serverPids(infra);
  if (temporal)
    out.push({
      name: `temporal server (pid ${temporal}, GOGC=${environ(temporal).GOGC ?? 'default'})`,
      cpuMs: () => treeCpuMs(temporal),
      rss: () => rssMiB(temporal),
    });
  if (postmaster)
    out.push({ name: `postgresql (postmaster ${postmaster} + backends)`, cpuMs: () => treeCpuMs(postmaster) });
  const redisPort = new URL(TEST_SERVICES.redisUrl).port;
  const redis = findPid((c) => c.startsWith('redis-server') && c.includes(`:${redisPort}`));
  if (redis) out.push({ name: 'redis (shared)', cpuMs: () => treeCpuMs(redis), shared: true });
  const weaviate = findPid((c) => /weaviate/.test(c.split(' ')[0] ?? ''));
  if (weaviate) out.push({ name: 'weaviate (shared)', cpuMs: () => treeCpuMs(weaviate), shared: true });
  return out;
}

/**
 * Seconds until the targets together use less than QUIET_MS_PER_S of CPU in a second (at most TAIL_MAX_S): how long
 * the work the turns started outlasts them.
 */
const QUIET_MS_PER_S = 50;
const TAIL_MAX_S = 60;
async function untilQuiet(targets: Target[]): Promise<number> {
  const total = () => targets.reduce((a, t) => a + t.cpuMs(), 0);
  const t0 = performance.now();
  for (let last = total(); performance.now() - t0 < TAIL_MAX_S * 1000;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = total();
    if (now - last < QUIET_MS_PER_S) return (performance.now() - t0) / 1000 - 1;
    last = now;
  }
  return TAIL_MAX_S;
}

/** The statements with the most execution time since the reset (all databases), per turn. */
async function topStatements(client: pg.Client, turns: number): Promise<string[]> {
  const { rows } = await client.query<{ calls: string; total: number; query: string }>(
    `SELECT sum(calls) AS calls, sum(total_exec_time) AS total, query FROM pg_stat_statements
      GROUP BY query ORDER BY total DESC LIMIT 12`,
  );
  return [
    'PostgreSQL statements by execution time (ms per turn, calls per turn):',
    ...rows.map(
      (r) =>
        `  ${(r.total / turns).toFixed(2).padStart(7)}  ${(Number(r.calls) / turns).toFixed(2).padStart(5)}×  ${r.query.replace(/\s+/g, ' ').slice(0, 110)}`,
    ),
  ];
}

async function run(): Promise<void> {
  const { values } = parseArgs({
    options: {
      open: { type: 'string', default: '100' },
      turns: { type: 'string', default: '600' },
      warmup: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '32' },
      'think-ms': { type: 'string', default: '1000' },
      /** Seconds without turns of ours in which the shared services' background CPU rate is read. */
      'background-s': { type: 'string', default: '10' },
      'shared-services': { type: 'boolean', default: false },
      /** Load pg_stat_statements in the bench's PostgreSQL and print the statements that took the most time. */
      'pg-statements': { type: 'boolean', default: false },
      /** Also write V8 CPU profiles of the worker and API processes (main and worker threads) into this directory. */
      'cpu-prof': { type: 'string' },
    },
  });
  const open = Number(values.open);
  const turns = Number(values.turns);
  const warmup = Number(values.warmup);
  const concurrency = Number(values.concurrency);
  const thinkMs = Number(values['think-ms']);
  const backgroundS = Number(values['background-s']);
  for (const [k, v] of Object.entries({ open, turns, warmup, concurrency, thinkMs, backgroundS }))
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be an integer ≥ 0`);
  const log = (m: string) => process.stderr.write(`[cpu] ${m}\n`);
  const bundlePath = await bundleWorkflows();
  if (values['pg-statements']) {
    if (values['shared-services']) throw new Error('--pg-statements needs the bench’s own PostgreSQL');
    process.env.BENCH_PG_STATEMENTS = '1';
  }
  const infra = values['shared-services'] ? await sharedInfra() : await durableInfra(log);
  const statements = values['pg-statements'] ? new pg.Client({ connectionString: infra.adminDatabaseUrl }) : undefined;
  const model = await startBenchModel(0);
  let stack: BenchStack | undefined;
  try {
    const prof = values['cpu-prof'];
    const env = prof ? { BENCH_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${prof}` } : undefined;
    stack = await startBenchStack({ modelUrl: model.url, bundlePath, infra, ...(env ? { env } : {}) });
    const s = stack;
    const ids = Array.from({ length: open }, (_, i) => `cpu-${i}`);
    const clock: ThinkClock = { lastEnded: new Map(), thinkMs };
    log(`opening ${open} conversations`);
    // Opened gently (it is not measured): 100 first turns at c=32 on a loaded machine time out in the API.
    const opened = await closedLoop(
      { concurrency: Math.min(concurrency, 8), total: open, maxMs: 1_800_000 },
      async (_l, i) => {
        await createConversation(s, ids[i]!);
        const t = TEXT[i % TEXT.length]!;
        await sendTurn(s, model, ids[i]!, t.user, t.reply);
        clock.lastEnded.set(ids[i]!, performance.now());
      },
    );
    if (opened.errors.length > open / 20) throw new Error(`opening failed: ${opened.errors.slice(0, 3).join('; ')}`);
    const lanes = Array.from({ length: concurrency }, (_, lane) => {
      const own = ids.filter((_, i) => i % concurrency === lane);
      return own.length > 0 ? own : [ids[lane % ids.length]!];
    });
    let k = 0;
    const loop = (total: number) =>
      closedLoop({ concurrency, total, maxMs: 1_800_000 }, async (lane) => {
        const id = await nextConversation(clock, lanes[lane]!);
        const t = TEXT[k++ % TEXT.length]!;
        try {
          return await sendTurn(s, model, id, t.user, t.reply);
        } finally {
          clock.lastEnded.set(id, performance.now());
        }
      });
    log(`warm-up: ${warmup} turns`);
    await loop(warmup);
    const measured = targets(s, infra);
    log(`reading the shared services' background CPU for ${backgroundS} s (no turns of ours)`);
    const idleBefore = measured.map((t) => (t.shared ? t.cpuMs() : 0));
    await new Promise((resolve) => setTimeout(resolve, backgroundS * 1000));
    const backgroundPerS = measured.map((t, i) => (t.shared ? (t.cpuMs() - idleBefore[i]!) / backgroundS : 0));
    if (statements) {
      await statements.connect();
      await statements.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await statements.query('SELECT pg_stat_statements_reset()');
    }
    const before = measured.map((t) => t.cpuMs());
    const workerThreadsBefore = threadCpuMs(s.worker.pid);
    const machineBefore = machineBusyMs();
    log(`measuring: ${turns} turns at concurrency ${concurrency}, think ${thinkMs} ms`);
    const res = await loop(turns);
    // A few failed turns (a busy machine) are reported, not fatal: the CPU is divided by the turns answered.
    if (res.errors.length > turns / 20) throw new Error(`turns failed: ${res.errors.slice(0, 3).join('; ')}`);
    if (res.errors.length) log(`${res.errors.length} turns failed, e.g. ${res.errors[0]}`);
    const done = res.results.length;
    const elapsedS = res.elapsedMs / 1000;
    // Shared services: minus what they used per second when we sent nothing (other users' work, a rough estimate).
    const rows = measured.map((t, i) => ({
      name: t.shared ? `${t.name}, minus background ${backgroundPerS[i]!.toFixed(0)} ms/s` : t.name,
      ms: (t.cpuMs() - before[i]! - backgroundPerS[i]! * elapsedS) / done,
      rss: t.rss?.(),
    }));
    const machine = (machineBusyMs() - machineBefore) / done;
    const workerThreads = threadBreakdown(workerThreadsBefore, threadCpuMs(s.worker.pid), done);
    // Upkeep the turns started (indexing, facts, compaction) may still run after the last turn: a short burst of
    // turns leaves it out of the window above. Follow our own processes until they go quiet and count it too.
    const ours = measured.filter((t) => !t.shared && !t.name.startsWith('load generator'));
    const tailS = await untilQuiet(ours);
    const withTail = ours.map((t) => (t.cpuMs() - before[measured.indexOf(t)]!) / done);
    const sumOf = (ms: number[]) => ms.reduce((a, b) => a + b, 0);
    const tps = done / (res.elapsedMs / 1000);
    const sum = rows.reduce((a, r) => a + (Number.isFinite(r.ms) ? r.ms : 0), 0);
    const lines = [
      `${done} turns${res.errors.length ? ` (+${res.errors.length} failed)` : ''} in ${(res.elapsedMs / 1000).toFixed(1)} s: ${tps.toFixed(1)} turns/s (open ${open}, c=${concurrency}, think ${thinkMs} ms, ${infra.kind} services)`,
      'CPU per turn (ms, user + system):',
      ...rows.map(
        (r) =>
          `  ${r.ms.toFixed(2).padStart(7)}  ${r.name}${r.rss !== undefined ? ` · RSS ${r.rss.toFixed(0)} MiB` : ''}`,
      ),
      `  ${sum.toFixed(2).padStart(7)}  sum of the above`,
      `  ${machine.toFixed(2).padStart(7)}  whole machine (/proc/stat, includes other users' work)`,
      `after the last turn our processes stayed busy ${tailS.toFixed(1)} s (upkeep the turns started); with it, per turn:`,
      ...ours.map((t, i) => `  ${withTail[i]!.toFixed(2).padStart(7)}  ${t.name}`),
      `  ${sumOf(withTail).toFixed(2).padStart(7)}  sum of these`,
      'worker threads, CPU per turn (ms; the workflow sandbox runs in a worker thread named like the main one):',
      ...workerThreads.map(([name, ms]) => `  ${ms.toFixed(2).padStart(7)}  ${name}`),
    ];
    if (statements) lines.push(...(await topStatements(statements, done)));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await statements?.end().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    await model.close();
    await infra.stop();
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
