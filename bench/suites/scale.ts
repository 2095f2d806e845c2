/**
 * 2. Throughput and scale: open more and more conversations (a workflow each, one turn each, then idle), and at
 * each level measure the worker's and the API's resident memory and the turn overhead percentiles under a fixed
 * load; at the throughput level, the sustained turns per second of a closed loop at concurrency 32.
 */
import { dialogue } from '../lib/dialogue';
import { closedLoop, createConversation, sendTurn, type TimedTurn } from '../lib/load';
import { startBenchStack, type BenchStack, type MemoirProcess } from '../lib/stack';
import { fmt, fmtRepeated, median, percentiles, repeated, slope, type Repeated } from '../lib/stats';
import { footer, type Mode, type Suite, type SuiteContext } from '../lib/suite';
import { nextConversation, type ThinkClock } from '../lib/think';
import { lineChart } from '../lib/svg-chart';
import { TEST_SERVICES } from '../../test/helpers/services';
import { machineBusyMs, ownCpuMs, serverPids, sharedServicePids, treeCpuMs } from '../lib/proc';
import { startFloor, type FloorThroughput } from '../wft/floor';
import { windowFigures, type TurnSpan, type WindowFigures } from '../lib/window';

interface ScaleParams {
  levels: number[];
  /** Open conversations at which sustained throughput is measured. */
  throughputLevel: number;
  throughputConcurrency: number;
  /** The measured window: only turns that end inside it count (bench/lib/window.ts). */
  throughputSeconds: number;
  /** Load before the window, not measured: the ramp (all lanes starting together) settles into a steady state. */
  warmupSeconds: number;
  /** Load under which latency is measured at each level. */
  probeConcurrency: number;
  probeTurns: number;
  /**
   * Least time between the end of a conversation's turn and its next one in the throughput loop (BENCH_THINK_MS
   * overrides). It caps the loop at (open conversations ÷ think time) turns/s: 200 in quick mode, 100 in full mode;
   * and a lane that owns n conversations turns each at most every n × round trip, which must cover the think time.
   */
  thinkMs: number;
  /**
   * Conversations are opened with one turn; before the throughput runs every `historyEvery`-th of them is given a
   * history of `historyTurns` turns through the normal path, so the window also serves long conversations (a
   * larger context, folds and facts behind them) at a bounded cost to the run: a mix, as real traffic is.
   */
  historyEvery: number;
  historyTurns: number;
  /**
   * Turns per lane of Temporal's floor beside each throughput run (bench/wft/floor.ts: update + one eager activity
   * that does nothing, at the same concurrency, back to back): the most turns/s any turn of Memoir's shape gets from
   * this machine's Temporal server and one worker.
   */
  floorTurnsPerLane: number;
}

const PARAMS: Record<Mode, ScaleParams> = {
  smoke: {
    levels: [4, 8],
    throughputLevel: 8,
    throughputConcurrency: 4,
    throughputSeconds: 5,
    warmupSeconds: 2,
    probeConcurrency: 4,
    probeTurns: 8,
    thinkMs: 200,
    historyEvery: 4,
    historyTurns: 6,
    floorTurnsPerLane: 5,
  },
  quick: {
    // 200 open: with 100 and 1 s of think time a lane's 3 conversations would cap it near 60 turns/s, the goal.
    levels: [10, 50, 200],
    throughputLevel: 200,
    throughputConcurrency: 32,
    throughputSeconds: 15,
    warmupSeconds: 5,
    probeConcurrency: 8,
    probeTurns: 24,
    thinkMs: 1_000,
    historyEvery: 8,
    historyTurns: 24,
    floorTurnsPerLane: 20,
  },
  full: {
    levels: [10, 500, 2000],
    throughputLevel: 500,
    throughputConcurrency: 32,
    throughputSeconds: 60,
    warmupSeconds: 15,
    probeConcurrency: 8,
    probeTurns: 200,
    thinkMs: 5_000,
    historyEvery: 10,
    historyTurns: 32,
    floorTurnsPerLane: 60,
  },
};

const MiB = 2 ** 20;
const TEXT = dialogue({ turns: 64, seed: 11 });

interface Level {
  open: number;
  workerRssMiB: Repeated;
  workerHeapMiB: Repeated;
  apiRssMiB: Repeated;
  p50: Repeated;
  p95: Repeated;
  p99: Repeated;
}

async function memorySamples(p: MemoirProcess, n = 3) {
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = await p.memory();
    rss.push(m.rss / MiB);
    heap.push(m.heapUsed / MiB);
  }
  return { rss: repeated(rss), heap: repeated(heap) };
}

/** Opens conversations until `target` are open, each with one turn (its workflow then waits, idle). */
async function openUpTo(ctx: SuiteContext, stack: BenchStack, ids: string[], clock: ThinkClock, target: number) {
  const from = ids.length;
  for (let i = from; i < target; i++) ids.push(`scale-${i}`);
  const loop = await closedLoop({ concurrency: 32, total: target - from, maxMs: 1_800_000 }, async (_l, i) => {
    const id = ids[from + i]!;
    await createConversation(stack, id);
    const t = TEXT[i % TEXT.length]!;
    const turn = await sendTurn(stack, ctx.model, id, t.user, t.reply);
    clock.lastEnded.set(id, performance.now());
    return turn;
  });
  if (loop.errors.length) throw new Error(`opening conversations failed: ${loop.errors.slice(0, 3).join('; ')}`);
}

/**
 * Gives every `historyEvery`-th open conversation `historyTurns` turns in all (it has one): each conversation's turns
 * in order, up to 32 conversations at a time, no think time. Returns how many turns it sent.
 */
async function seedHistory(ctx: SuiteContext, stack: BenchStack, ids: string[], clock: ThinkClock, p: ScaleParams) {
  const chosen = ids.filter((_, i) => i % p.historyEvery === 0);
  const extra = p.historyTurns - 1;
  if (chosen.length === 0 || extra <= 0) return 0;
  const loop = await closedLoop({ concurrency: 32, total: chosen.length, maxMs: 1_800_000 }, async (_l, i) => {
    const id = chosen[i]!;
    // Turns 2..historyTurns of the dialogue, after the opening turn's line (its index in `ids`).
    const from = ids.indexOf(id) + 1;
    for (let k = 0; k < extra; k++) {
      const t = TEXT[(from + k) % TEXT.length]!;
      await sendTurn(stack, ctx.model, id, t.user, t.reply);
    }
    clock.lastEnded.set(id, performance.now());
  });
  if (loop.errors.length) throw new Error(`seeding history failed: ${loop.errors.slice(0, 3).join('; ')}`);
  return chosen.length * extra;
}

/**
 * A closed loop over the open conversations; lane l only uses conversations i ≡ l (mod concurrency), at random
 * among those whose think time has passed since their last turn.
 */
async function load(
  ctx: SuiteContext,
  stack: BenchStack,
  ids: string[],
  clock: ThinkClock,
  concurrency: number,
  bound: { total?: number; durationMs?: number },
  spans?: TurnSpan[],
) {
  let k = 0;
  const lanes = Array.from({ length: concurrency }, (_, lane) => {
    const own = ids.filter((_, i) => i % concurrency === lane);
    return own.length > 0 ? own : [ids[lane % ids.length]!];
  });
  return closedLoop({ concurrency, ...bound, maxMs: 900_000 }, async (lane): Promise<TimedTurn> => {
    const id = await nextConversation(clock, lanes[lane]!);
    const t = TEXT[k++ % TEXT.length]!;
    const startMs = performance.now();
    let retries = 0;
    try {
      const turn = await sendTurn(stack, ctx.model, id, t.user, t.reply);
      retries = turn.retries;
      return turn;
    } finally {
      const endMs = performance.now();
      clock.lastEnded.set(id, endMs);
      spans?.push({ startMs, endMs, retries });
    }
  });
}

/** What one sustained run measured: the window's figures and the worker's and API's CPU per turn in it. */
interface SustainedRun extends WindowFigures {
  workerCpuMsPerTurn: number;
  apiCpuMsPerTurn: number;
  /** The run's own Temporal server and PostgreSQL (with its backends); NaN on the shared test services. */
  temporalCpuMsPerTurn: number;
  postgresCpuMsPerTurn: number;
  /** The shared Redis and Weaviate (other users' work on them included); NaN when not found. */
  redisCpuMsPerTurn: number;
  weaviateCpuMsPerTurn: number;
  /** The benchmark's own process: the load generator, the in-process client and the offline model. */
  benchCpuMsPerTurn: number;
  /** Every process of the machine, other users' work included (/proc/stat). */
  machineCpuMsPerTurn: number;
  /** The old method's figure on the same run: every turn of warm-up + window + drain over the whole elapsed time. */
  wholeLoopTurnsPerSecond: number;
}

/**
 * Closed loop for warm-up + window; CPU read at the window's edges. Turns still running at the window's end finish
 * (the loop stops starting turns then) but are not counted.
 */
async function sustained(
  ctx: SuiteContext,
  stack: BenchStack,
  ids: string[],
  clock: ThinkClock,
  p: ScaleParams,
): Promise<SustainedRun> {
  const spans: TurnSpan[] = [];
  const t0 = performance.now();
  const from = t0 + p.warmupSeconds * 1000;
  const to = from + p.throughputSeconds * 1000;
  // On 2 cores 60 turns/s leaves ~33 ms of CPU per turn for every process together: the worker's alone says little.
  const servers = ctx.infra.kind === 'durable' ? serverPids(ctx.infra) : {};
  const shared = sharedServicePids(new URL(TEST_SERVICES.redisUrl).port, String(TEST_SERVICES.weaviate.port));
  const tree = (pid: number | undefined) => (pid === undefined ? Number.NaN : treeCpuMs(pid));
  const cpu = () => ({
    worker: stack.worker.cpuMs(),
    api: stack.api.cpuMs(),
    temporal: tree(servers.temporal),
    postgres: tree(servers.postmaster),
    redis: tree(shared.redis),
    weaviate: tree(shared.weaviate),
    bench: ownCpuMs(),
    machine: machineBusyMs(),
  });
  const at = (ms: number) => new Promise<ReturnType<typeof cpu>>((r) => setTimeout(() => r(cpu()), ms));
  const edges = Promise.all([at(from - t0), at(to - t0)]);
  const res = await load(ctx, stack, ids, clock, p.throughputConcurrency, { durationMs: to - t0 }, spans);
  const [start, end] = await edges;
  if (res.errors.length) throw new Error(`throughput run failed: ${res.errors.slice(0, 3).join('; ')}`);
  const w = windowFigures(spans, from, to, p.throughputConcurrency);
  const per = (ms: number) => (w.turns > 0 ? ms / w.turns : Number.NaN);
  return {
    ...w,
    workerCpuMsPerTurn: per(end.worker - start.worker),
    apiCpuMsPerTurn: per(end.api - start.api),
    temporalCpuMsPerTurn: per(end.temporal - start.temporal),
    postgresCpuMsPerTurn: per(end.postgres - start.postgres),
    redisCpuMsPerTurn: per(end.redis - start.redis),
    weaviateCpuMsPerTurn: per(end.weaviate - start.weaviate),
    benchCpuMsPerTurn: per(end.bench - start.bench),
    machineCpuMsPerTurn: per(end.machine - start.machine),
    wholeLoopTurnsPerSecond: res.results.length / (res.elapsedMs / 1000),
  };
}

/** BENCH_THINK_MS, else the mode's think time. */
function thinkTime(mode: Mode): number {
  const env = process.env.BENCH_THINK_MS;
  if (env === undefined || env === '') return PARAMS[mode].thinkMs;
  const ms = Number(env);
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`BENCH_THINK_MS must be an integer ≥ 0, got "${env}"`);
  return ms;
}

export const scaleSuite: Suite = {
  id: 'scale',
  title: 'Throughput and scale',
  async run(ctx) {
    const p = { ...PARAMS[ctx.mode], thinkMs: thinkTime(ctx.mode) };
    const params = {
      ...p,
      levels: p.levels.join(','),
      modelLatencyMs: ctx.model.latencyMs,
      repeats: ctx.repeats,
      services: ctx.infra.kind,
      ...ctx.infra.settings,
    };
    const stack = await startBenchStack({ modelUrl: ctx.model.url, bundlePath: ctx.bundlePath, infra: ctx.infra });
    const clock: ThinkClock = { lastEnded: new Map(), thinkMs: p.thinkMs };
    const noThink: ThinkClock = { lastEnded: clock.lastEnded, thinkMs: 0 };
    const ids: string[] = [];
    const levels: Level[] = [];
    let throughput: SustainedRun[] | undefined;
    const floorRuns: FloorThroughput[] = [];
    let seededTurns = 0;
    let seedSeconds = 0;
    const baseline = { worker: await memorySamples(stack.worker), api: await memorySamples(stack.api) };
    try {
      for (const level of p.levels) {
        ctx.log(`scale: opening conversations up to ${level}`);
        await openUpTo(ctx, stack, ids, clock, level);
        const worker = await memorySamples(stack.worker);
        const api = await memorySamples(stack.api);
        const runs: { p50: number; p95: number; p99: number }[] = [];
        for (let r = 0; r < ctx.repeats; r++) {
          ctx.log(`scale: ${level} open, latency probe ${r + 1}/${ctx.repeats}`);
          // No think time in the latency probe: at 10 open conversations and 8 lanes it would be all waiting.
          const res = await load(ctx, stack, ids, noThink, p.probeConcurrency, { total: p.probeTurns });
          if (res.errors.length) throw new Error(`probe failed: ${res.errors.slice(0, 3).join('; ')}`);
          runs.push(percentiles(res.results.map((t) => t.overheadMs)));
        }
        levels.push({
          open: level,
          workerRssMiB: worker.rss,
          workerHeapMiB: worker.heap,
          apiRssMiB: api.rss,
          p50: repeated(runs.map((r) => r.p50)),
          p95: repeated(runs.map((r) => r.p95)),
          p99: repeated(runs.map((r) => r.p99)),
        });
        if (level === p.throughputLevel) {
          ctx.log(`scale: giving every ${p.historyEvery}th conversation ${p.historyTurns} turns of history`);
          const seeded = performance.now();
          seededTurns = await seedHistory(ctx, stack, ids, clock, p);
          seedSeconds = (performance.now() - seeded) / 1000;
          const runs: SustainedRun[] = [];
          const floor = await startFloor(ctx.infra.temporalAddress, serverPids(ctx.infra).temporal);
          try {
            for (let r = 0; r < ctx.repeats; r++) {
              ctx.log(`scale: throughput at ${level} open, run ${r + 1}/${ctx.repeats}`);
              const run = await sustained(ctx, stack, ids, clock, p);
              ctx.log(`scale: ${JSON.stringify(run)}`);
              runs.push(run);
              ctx.log(`scale: Temporal's floor at concurrency ${p.throughputConcurrency}, run ${r + 1}/${ctx.repeats}`);
              floorRuns.push(await floor.throughput(p.throughputConcurrency, p.floorTurnsPerLane));
              ctx.log(`scale: floor ${JSON.stringify(floorRuns.at(-1))}`);
            }
          } finally {
            await floor.stop();
          }
          throughput = runs;
        }
      }
    } finally {
      await stack.stop();
    }

    const sustainedFigure = (key: keyof SustainedRun) =>
      throughput ? repeated(throughput.map((r) => r[key])) : undefined;
    const tps = sustainedFigure('turnsPerSecond');
    const roundTripP95 = sustainedFigure('roundTripP95Ms');
    const meanRoundTrip = sustainedFigure('meanRoundTripMs');
    const laneBusy = sustainedFigure('laneBusy');
    const workerCpuPerTurn = sustainedFigure('workerCpuMsPerTurn');
    const apiCpuPerTurn = sustainedFigure('apiCpuMsPerTurn');
    const temporalCpuPerTurn = sustainedFigure('temporalCpuMsPerTurn');
    const postgresCpuPerTurn = sustainedFigure('postgresCpuMsPerTurn');
    /** A figure to one decimal, or a dash when it was not measured (a server's process not found). */
    const figureCell = (f: Repeated | undefined) => (f && Number.isFinite(f.median) ? fmtRepeated(f, 1) : '–');
    const floorFigure = (key: keyof FloorThroughput) =>
      floorRuns.length ? repeated(floorRuns.map((r) => r[key])) : undefined;
    const floorTps = floorFigure('turnsPerSecond');
    const floorWorkerCpu = floorFigure('workerCpuMsPerTurn');
    const floorTemporalCpu = floorFigure('temporalCpuMsPerTurn');
    const redisCpuPerTurn = sustainedFigure('redisCpuMsPerTurn');
    const weaviateCpuPerTurn = sustainedFigure('weaviateCpuMsPerTurn');
    const benchCpuPerTurn = sustainedFigure('benchCpuMsPerTurn');
    const machineCpuPerTurn = sustainedFigure('machineCpuMsPerTurn');
    const windowTurns = sustainedFigure('turns');
    const windowRetries = sustainedFigure('retries');
    const memPoints: [number, number][] = [
      [0, baseline.worker.rss.median],
      ...levels.map((l) => [l.open, l.workerRssMiB.median] as [number, number]),
    ];
    const heapPoints: [number, number][] = [
      [0, baseline.worker.heap.median],
      ...levels.map((l) => [l.open, l.workerHeapMiB.median] as [number, number]),
    ];
    // The slope over the levels only: the first conversations also pay one-time costs (code paths warming up).
    const fit = (pts: [number, number][]) => slope(pts.length > 2 ? pts.slice(1) : pts) * 1024;
    const perConvKiB = fit(memPoints);
    const perConvHeapKiB = fit(heapPoints);
    const maxCached = stack.worker.ready.maxCachedWorkflows;
    const f = footer(ctx, params);
    const p95Svg = lineChart({
      title: 'Turn overhead as open conversations grow',
      subtitle: `Overhead percentiles under a fixed load (concurrency ${p.probeConcurrency}); median of ${ctx.repeats} runs per point`,
      xLabel: 'open conversations (log scale)',
      yLabel: 'overhead per turn (ms)',
      xLog: true,
      series: [
        ...(['p50', 'p95', 'p99'] as const).map((k) => ({
          name: k,
          points: levels.map((l) => [l.open, l[k].median] as [number, number]),
          spread: levels.map((l) => [l[k].min, l[k].max] as [number, number]),
          dashed: k === 'p99',
        })),
      ],
      footer: f,
    });
    const memSvg = lineChart({
      title: 'Resident memory as open conversations grow',
      subtitle: `After a forced GC; the worker caches up to ${maxCached ?? '?'} workflows (Temporal's maxCachedWorkflows)`,
      xLabel: 'open conversations',
      yLabel: 'MiB',
      series: [
        { name: 'worker RSS', points: memPoints },
        { name: 'worker JS heap used', points: heapPoints, dashed: true },
        {
          name: 'API RSS',
          points: [
            [0, baseline.api.rss.median],
            ...levels.map((l) => [l.open, l.apiRssMiB.median] as [number, number]),
          ],
        },
      ],
      footer: f,
    });
    const rows = levels.map((l) => [
      String(l.open),
      fmtRepeated(l.p50, 1),
      fmtRepeated(l.p95, 1),
      fmtRepeated(l.p99, 1),
      fmtRepeated(l.workerRssMiB, 1),
      fmtRepeated(l.workerHeapMiB, 1),
      fmtRepeated(l.apiRssMiB, 1),
    ]);
    const p95Growth = levels.length > 1 ? levels.at(-1)!.p95.median / levels[0]!.p95.median : NaN;
    return {
      params,
      data: {
        baseline: {
          workerRssMiB: baseline.worker.rss,
          workerHeapMiB: baseline.worker.heap,
          apiRssMiB: baseline.api.rss,
        },
        levels,
        throughput: {
          openConversations: p.throughputLevel,
          warmupSeconds: p.warmupSeconds,
          windowSeconds: p.throughputSeconds,
          turnsPerSecond: tps,
          turnsInWindow: windowTurns,
          retriesInWindow: windowRetries,
          history: { every: p.historyEvery, turns: p.historyTurns, seededTurns, seedSeconds },
          roundTripP95Ms: roundTripP95,
          meanRoundTripMs: meanRoundTrip,
          laneBusy,
          workerCpuMsPerTurn: workerCpuPerTurn,
          apiCpuMsPerTurn: apiCpuPerTurn,
          temporalCpuMsPerTurn: temporalCpuPerTurn,
          postgresCpuMsPerTurn: postgresCpuPerTurn,
          redisCpuMsPerTurn: redisCpuPerTurn,
          weaviateCpuMsPerTurn: weaviateCpuPerTurn,
          benchCpuMsPerTurn: benchCpuPerTurn,
          machineCpuMsPerTurn: machineCpuPerTurn,
          runs: throughput,
        },
        floor: {
          concurrency: p.throughputConcurrency,
          turnsPerLane: p.floorTurnsPerLane,
          turnsPerSecond: floorTps,
          workerCpuMsPerTurn: floorWorkerCpu,
          temporalCpuMsPerTurn: floorTemporalCpu,
          runs: floorRuns,
        },
        memoryPerIdleConversationKiB: { rss: perConvKiB, heapUsed: perConvHeapKiB },
        maxCachedWorkflows: maxCached,
        p95GrowthFactor: p95Growth,
      },
      headlines: [
        {
          label: `Sustained turns/s, ${p.throughputLevel} open conversations, concurrency ${p.throughputConcurrency}`,
          value: tps ? fmtRepeated(tps, 1) : '–',
        },
        {
          label:
            `Temporal’s floor at concurrency ${p.throughputConcurrency}, same run: turns/s of an update + one eager ` +
            'activity that does nothing, back to back (the ceiling for any turn of that shape here)',
          value: floorTps ? fmtRepeated(floorTps, 1) : '–',
        },
        {
          label: `Worker CPU per turn at that load (user + system, /proc; think time ${p.thinkMs} ms)`,
          value: workerCpuPerTurn ? `${fmtRepeated(workerCpuPerTurn, 1)} ms` : '–',
        },
        {
          label: 'Worker memory per idle conversation (RSS slope; JS heap slope)',
          value: `${fmt(perConvKiB, 1)} KiB; ${fmt(perConvHeapKiB, 1)} KiB`,
        },
        {
          label: `Overhead p95 from ${levels[0]?.open} to ${levels.at(-1)?.open} open conversations`,
          value: `${fmtRepeated(levels[0]!.p95, 1)} → ${fmtRepeated(levels.at(-1)!.p95, 1)} ms (×${fmt(p95Growth, 2)})`,
        },
      ],
      sections: [
        {
          kind: 'text',
          text:
            `Each level adds conversations (created, one turn, then idle: a running workflow each) and then measures ` +
            `${p.probeTurns} turns on random open conversations at concurrency ${p.probeConcurrency}. Throughput is a ` +
            `closed loop of ${p.throughputConcurrency} lanes over all ${p.throughputLevel} open conversations (lane l owns ` +
            `the conversations i ≡ l mod ${p.throughputConcurrency}); each conversation waits at least ${p.thinkMs} ms (think time) ` +
            `after its last turn before its next${p.thinkMs > 0 ? `, which caps the loop at ${fmt(p.throughputLevel / (p.thinkMs / 1000), 0)} turns/s` : ''}. ` +
            `Before the throughput runs every ${p.historyEvery}th conversation is given ${p.historyTurns} turns of history ` +
            `through the API (${seededTurns} turns, ${fmt(seedSeconds, 0)} s), so the window serves long conversations ` +
            `beside short ones. A 503 with Retry-After is waited out and the same message sent again with the same ` +
            `messageId, as the API documents; the retries are counted, and any other failure aborts the run. ` +
            `The load runs ${p.warmupSeconds} s before the measured ${p.throughputSeconds} s window and only turns that end ` +
            `inside the window count (the ramp and the drain after it are left out); CPU is read from /proc at the ` +
            `window's edges (on 2 cores, 60 turns/s leaves about 33 ms of CPU per turn for every process together). "Lanes busy" is the share of lane time in a turn: the rest a lane waited for one of its ` +
            `conversations to finish thinking (near 100 % the system sets the pace, not the think time). Memory is read ` +
            `from the worker and API child processes after a forced GC (median of 3 samples). Memory per idle ` +
            `conversation is the least-squares slope of worker memory over the levels (the start, before any conversation, is ` +
            `left out: the first conversations also pay one-time costs). ` +
            `The worker keeps up to ${maxCached ?? '?'} workflows in its cache (Temporal's default maxCachedWorkflows ` +
            `for its heap limit); past that, idle workflows are evicted and a later turn replays its history first.`,
        },
        {
          kind: 'table',
          table: {
            columns: [
              'open conversations',
              'overhead p50 (ms)',
              'p95 (ms)',
              'p99 (ms)',
              'worker RSS (MiB)',
              'worker heap (MiB)',
              'API RSS (MiB)',
            ],
            rows,
          },
        },
        {
          kind: 'table',
          caption: 'Sustained throughput',
          table: {
            columns: [
              'open conversations',
              'concurrency',
              'think time',
              'warm-up + window',
              'turns/s (goal ≥ 60 at 500 open)',
              'round trip mean / p95 (ms)',
              'lanes busy',
              'retries after 503',
              'CPU per turn, worker / API (ms)',
            ],
            rows: [
              [
                String(p.throughputLevel),
                String(p.throughputConcurrency),
                `${p.thinkMs} ms`,
                `${p.warmupSeconds} s + ${p.throughputSeconds} s`,
                tps ? fmtRepeated(tps, 1) : '–',
                meanRoundTrip && roundTripP95
                  ? `${fmt(meanRoundTrip.median, 0)} / ${fmt(roundTripP95.median, 0)}`
                  : '–',
                laneBusy ? `${fmt(laneBusy.median * 100, 0)} %` : '–',
                windowRetries ? fmtRepeated(windowRetries, 0) : '–',
                workerCpuPerTurn && apiCpuPerTurn
                  ? `${fmtRepeated(workerCpuPerTurn, 1)} / ${fmtRepeated(apiCpuPerTurn, 1)}`
                  : '–',
              ],
            ],
          },
        },
        {
          kind: 'table',
          caption: 'CPU per turn in the throughput window, by process (user + system from /proc, ms)',
          table: {
            columns: [
              'worker',
              'API',
              'Temporal server',
              'PostgreSQL',
              'Redis',
              'Weaviate',
              'benchmark process (load, client, offline model)',
              'whole machine (other users included)',
            ],
            rows: [
              [
                workerCpuPerTurn,
                apiCpuPerTurn,
                temporalCpuPerTurn,
                postgresCpuPerTurn,
                redisCpuPerTurn,
                weaviateCpuPerTurn,
                benchCpuPerTurn,
                machineCpuPerTurn,
              ].map(figureCell),
            ],
          },
        },
        {
          kind: 'text',
          text:
            '**Temporal’s floor beside it.** After each throughput run, on the same Temporal server, ' +
            `${p.throughputConcurrency} lanes send ${p.floorTurnsPerLane} turns each, back to back (after 3 warm-up ` +
            'turns), to a workflow whose update handler runs one eager activity that does nothing and answers ' +
            '(bench/wft/floor.ts; a worker process of its own on Memoir’s worker options; each turn sent as ' +
            '`MemoirClient` sends one). No storage, no model, no think time: the most turns per second a turn of ' +
            'Memoir’s shape can get from this Temporal server and one worker on this machine, and the CPU that ' +
            'shape costs the two. Memoir’s turns also pay PostgreSQL, Redis, Weaviate, the API and the load ' +
            'generator from the same 2 cores.',
        },
        {
          kind: 'table',
          caption: 'Temporal’s floor at the same concurrency',
          table: {
            columns: ['turns/s', 'CPU per turn, floor worker (ms)', 'CPU per turn, Temporal server (ms)'],
            rows: [[floorTps, floorWorkerCpu, floorTemporalCpu].map(figureCell)],
          },
        },
        { kind: 'chart', file: 'scale-latency.svg', alt: 'Overhead percentiles vs open conversations' },
        { kind: 'chart', file: 'scale-memory.svg', alt: 'Resident memory vs open conversations' },
      ],
      charts: [
        { file: 'scale-latency.svg', svg: p95Svg },
        { file: 'scale-memory.svg', svg: memSvg },
      ],
      notes: [`Median worker RSS at start (no conversation): ${fmt(median(baseline.worker.rss.runs), 1)} MiB.`],
    };
  },
};
