/**
 * 1. Turn overhead: the time from sending a message to the API to getting its reply, minus the model's own time,
 * at concurrency 1 and 32, split by phase using each turn's workflow history.
 */
import { dialogue } from '../lib/dialogue';
import { closedLoop, createConversation, sendTurn, type TimedTurn } from '../lib/load';
import { conversationPhases, type TurnPhases } from '../lib/phases';
import { promValue } from '../lib/prom';
import { startBenchStack, type BenchStack } from '../lib/stack';
import { fmtRepeated, mean, percentiles, repeated, type Repeated } from '../lib/stats';
import { footer, type Mode, type Suite, type SuiteContext, type SuiteOutput } from '../lib/suite';
import { barChart, lineChart } from '../lib/svg-chart';

const PARAMS: Record<Mode, { concurrency: number[]; turnsPerConversation: number[]; conversations: number[] }> = {
  smoke: { concurrency: [1, 4], turnsPerConversation: [4, 2], conversations: [1, 4] },
  quick: { concurrency: [1, 32], turnsPerConversation: [20, 2], conversations: [1, 32] },
  full: { concurrency: [1, 32], turnsPerConversation: [200, 15], conversations: [1, 32] },
};

const PHASES = [
  ['contextMs', 'context (loadContext)'],
  ['modelCallMs', 'model call minus model time'],
  ['persistMs', 'persist (persistTurn)'],
  ['dispatchMs', 'Temporal: activity dispatch'],
  ['workflowMs', 'Temporal: workflow tasks'],
  ['apiMs', 'API + update round trip'],
] as const;
type PhaseKey = (typeof PHASES)[number][0];

interface MeasuredTurn extends TimedTurn {
  phases?: Record<PhaseKey, number>;
}

interface RunStats {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  totalP50: number;
  modelP50: number;
  turnsPerSecond: number;
  serverTotalMeanMs: number;
  phases: Record<PhaseKey, number>;
}

function phaseSplit(t: TimedTurn, p: TurnPhases): Record<PhaseKey, number> {
  return {
    contextMs: p.contextMs,
    modelCallMs: p.modelActivityMs - t.modelMs,
    persistMs: p.persistMs,
    dispatchMs: p.activityDispatchMs,
    workflowMs: p.workflowTasksMs,
    apiMs: t.totalMs - p.spanMs,
  };
}

async function histogram(stack: BenchStack) {
  const text = await stack.metrics('api');
  return {
    sum: promValue(text, 'memoir_turn_duration_seconds_sum', { phase: 'total' }) ?? 0,
    count: promValue(text, 'memoir_turn_duration_seconds_count', { phase: 'total' }) ?? 0,
  };
}

/** One run at one concurrency: fresh conversations, a warm-up turn each, then the measured turns. */
async function runOnce(
  ctx: SuiteContext,
  stack: BenchStack,
  run: string,
  concurrency: number,
  conversations: number,
  turns: number,
): Promise<{ stats: RunStats; turns: MeasuredTurn[] }> {
  const script = dialogue({ turns: turns + 1, seed: concurrency * 1000 + Number(run.replace(/\D/g, '') || 0) });
  const ids = Array.from({ length: conversations }, (_, i) => `ovh-${run}-c${concurrency}-${i}`);
  // The first turn of a conversation also starts its workflow: warm-up, not measured.
  await closedLoop({ concurrency, total: ids.length, maxMs: 300_000 }, async (_l, i) => {
    await createConversation(stack, ids[i]!);
    return sendTurn(stack, ctx.model, ids[i]!, script[0]!.user, script[0]!.reply);
  });
  const before = await histogram(stack);
  const next = new Array<number>(conversations).fill(1);
  const loop = await closedLoop({ concurrency, total: conversations * turns, maxMs: 600_000 }, async (lane) => {
    // A lane owns conversations lane, lane+concurrency, ...: a conversation's turns are sequential, as a user's are.
    const own = ids.map((_, i) => i).filter((i) => i % concurrency === lane);
    const c = own.reduce((best, i) => (next[i]! < next[best]! ? i : best), own[0]!);
    const n = next[c]!++;
    const t = script[Math.min(n, turns)]!;
    return sendTurn(stack, ctx.model, ids[c]!, t.user, t.reply);
  });
  if (loop.errors.length) throw new Error(`overhead run failed: ${loop.errors.slice(0, 3).join('; ')}`);
  const after = await histogram(stack);
  const measured: MeasuredTurn[] = loop.results;
  for (const id of ids) {
    const mine = measured.filter((t) => t.conversationId === id);
    const phases = await conversationPhases(
      stack.temporal,
      `conversation/${stack.tenantId}/${id}`,
      new Set(mine.map((t) => t.messageId)),
    );
    for (const t of mine) {
      const p = phases.get(t.messageId);
      if (p) t.phases = phaseSplit(t, p);
    }
  }
  const overhead = measured.map((t) => t.overheadMs);
  const pc = percentiles(overhead);
  const withPhases = measured.filter((t) => t.phases);
  const phases = Object.fromEntries(PHASES.map(([k]) => [k, mean(withPhases.map((t) => t.phases![k]))])) as Record<
    PhaseKey,
    number
  >;
  return {
    stats: {
      p50: pc.p50,
      p95: pc.p95,
      p99: pc.p99,
      mean: pc.mean,
      totalP50: percentiles(measured.map((t) => t.totalMs)).p50,
      modelP50: percentiles(measured.map((t) => t.modelMs)).p50,
      turnsPerSecond: measured.length / (loop.elapsedMs / 1000),
      serverTotalMeanMs:
        after.count > before.count ? ((after.sum - before.sum) / (after.count - before.count)) * 1000 : NaN,
      phases,
    },
    turns: measured,
  };
}

export const overheadSuite: Suite = {
  id: 'overhead',
  title: 'Turn overhead',
  async run(ctx) {
    const p = PARAMS[ctx.mode];
    const params = {
      concurrency: p.concurrency.join(','),
      conversations: p.conversations.join(','),
      measuredTurnsPerConversation: p.turnsPerConversation.join(','),
      modelLatencyMs: ctx.model.latencyMs,
      repeats: ctx.repeats,
      topology: 'API and worker as separate child processes; load generator and offline model in the runner',
    };
    const stack = await startBenchStack({ modelUrl: ctx.model.url, bundlePath: ctx.bundlePath });
    const byConcurrency: Record<string, { runs: RunStats[]; turns: MeasuredTurn[] }> = {};
    try {
      for (let r = 0; r < ctx.repeats; r++) {
        for (const [i, c] of p.concurrency.entries()) {
          ctx.log(`overhead: run ${r + 1}/${ctx.repeats}, concurrency ${c}`);
          const res = await runOnce(ctx, stack, `r${r}`, c, p.conversations[i]!, p.turnsPerConversation[i]!);
          const slot = (byConcurrency[c] ??= { runs: [], turns: [] });
          slot.runs.push(res.stats);
          slot.turns.push(...res.turns);
        }
      }
    } finally {
      await stack.stop();
    }
    return report(ctx, params, byConcurrency);
  },
};

function report(
  ctx: SuiteContext,
  params: Record<string, unknown>,
  byConcurrency: Record<string, { runs: RunStats[]; turns: MeasuredTurn[] }>,
): SuiteOutput {
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  const summary: Record<string, Record<string, Repeated>> = {};
  for (const [c, { runs, turns }] of Object.entries(byConcurrency)) {
    const fig = (f: (r: RunStats) => number) => repeated(runs.map(f));
    const s = {
      p50: fig((r) => r.p50),
      p95: fig((r) => r.p95),
      p99: fig((r) => r.p99),
      totalP50: fig((r) => r.totalP50),
      modelP50: fig((r) => r.modelP50),
      turnsPerSecond: fig((r) => r.turnsPerSecond),
      serverTotalMeanMs: fig((r) => r.serverTotalMeanMs),
      ...Object.fromEntries(PHASES.map(([k]) => [k, fig((r) => r.phases[k])])),
    };
    summary[c] = s;
    data[`concurrency${c}`] = {
      ...s,
      turnsMeasured: turns.length,
      turnsWithPhases: turns.filter((t) => t.phases).length,
    };
    rows.push([
      c,
      fmtRepeated(s.p50, 1),
      fmtRepeated(s.p95, 1),
      fmtRepeated(s.p99, 1),
      fmtRepeated(s.totalP50, 1),
      fmtRepeated(s.modelP50, 2),
      fmtRepeated(s.turnsPerSecond, 1),
      String(turns.length),
    ]);
  }
  const cs = Object.keys(byConcurrency);
  const phaseRows = PHASES.map(([k, label]) => [label, ...cs.map((c) => fmtRepeated(summary[c]![k]!, 1))]);
  const f = footer(ctx, params);
  const phasesSvg = barChart({
    title: 'Where a turn’s overhead goes (mean ms per turn, model time excluded)',
    subtitle: 'Phases from each turn’s workflow history; the bar’s height is the mean overhead',
    yLabel: 'ms per turn',
    categories: cs.map((c) => `concurrency ${c}`),
    series: PHASES.map(([k, label]) => ({ name: label, values: cs.map((c) => summary[c]![k]!.median) })),
    stacked: true,
    valueLabel: (v) => `${v.toFixed(1)} ms`,
    footer: f,
  });
  const cdfSvg = lineChart({
    title: 'Turn overhead, cumulative distribution',
    subtitle: 'Share of turns whose overhead (round trip minus model time) is at most x; all runs pooled',
    xLabel: 'overhead per turn (ms, log scale)',
    yLabel: 'share of turns',
    xLog: true,
    yMax: 1,
    series: cs.map((c) => {
      const v = byConcurrency[c]!.turns.map((t) => Math.max(0.1, t.overheadMs)).sort((a, b) => a - b);
      return {
        name: `concurrency ${c} (n=${v.length})`,
        points: v.flatMap((x, i): [number, number][] => [
          [x, i / v.length],
          [x, (i + 1) / v.length],
        ]),
        markers: false,
      };
    }),
    footer: f,
  });
  const c1 = summary[cs[0]!]!;
  const cN = summary[cs.at(-1)!]!;
  return {
    params,
    data,
    headlines: [
      {
        label: `Turn overhead p50 / p95, concurrency ${cs[0]}`,
        value: `${fmtRepeated(c1.p50!, 1)} / ${fmtRepeated(c1.p95!, 1)} ms`,
      },
      {
        label: `Turn overhead p50 / p95, concurrency ${cs.at(-1)}`,
        value: `${fmtRepeated(cN.p50!, 1)} / ${fmtRepeated(cN.p95!, 1)} ms`,
      },
    ],
    sections: [
      {
        kind: 'text',
        text:
          'Overhead = client-side round trip to the API minus the offline model’s own time for that turn (measured on ' +
          'the model server). The first turn of each conversation (which also starts its workflow) is a warm-up and not measured.',
      },
      {
        kind: 'table',
        table: {
          columns: [
            'concurrency',
            'overhead p50 (ms)',
            'p95 (ms)',
            'p99 (ms)',
            'round trip p50 (ms)',
            'model time p50 (ms)',
            'turns/s',
            'turns',
          ],
          rows,
        },
      },
      {
        kind: 'table',
        caption: 'Mean ms per turn by phase',
        table: { columns: ['phase', ...cs.map((c) => `concurrency ${c}`)], rows: phaseRows },
      },
      { kind: 'chart', file: 'overhead-phases.svg', alt: 'Stacked bars: overhead per turn by phase' },
      { kind: 'chart', file: 'overhead-cdf.svg', alt: 'CDF of turn overhead' },
    ],
    charts: [
      { file: 'overhead-phases.svg', svg: phasesSvg },
      { file: 'overhead-cdf.svg', svg: cdfSvg },
    ],
    notes: [
      `API-side mean of memoir_turn_duration_seconds{phase="total"}: ${cs.map((c) => `${fmtRepeated(summary[c]!.serverTotalMeanMs!, 1)} ms at concurrency ${c}`).join(', ')} (the client round trip adds the loopback HTTP hop).`,
    ],
  };
}
