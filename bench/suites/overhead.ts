/**
 * 1. Turn overhead: the time from sending a message to getting its reply, minus the model's own time, through the
 * in-process `MemoirClient` and through the HTTP API, at concurrency 1 and 32, with the model answering at once and
 * streaming at a real model's pace; split by phase using each turn's workflow history.
 */
import { dialogue } from '../lib/dialogue';
import { closedLoop, createConversation, sendTurn, TRANSPORT_LABEL, type TimedTurn, type Transport } from '../lib/load';
import type { ModelPace } from '../lib/offline';
import { conversationPhases, type TurnPhases } from '../lib/phases';
import { promValue } from '../lib/prom';
import { startBenchStack, type BenchStack } from '../lib/stack';
import { fmt, fmtRepeated, mean, percentiles, repeated, type Repeated } from '../lib/stats';
import { footer, type Mode, type Suite, type SuiteContext, type SuiteOutput } from '../lib/suite';
import { barChart, lineChart } from '../lib/svg-chart';

/** One measured configuration: how turns are sent, how many at once, and how the model answers. */
interface Case {
  via: Transport;
  concurrency: number;
  conversations: number;
  turnsPerConversation: number;
  pace: 'instant' | 'paced';
}

interface OverheadParams {
  /** Model answering at once: both transports at each concurrency. */
  concurrency: number[];
  turnsPerConversation: number[];
  conversations: number[];
  /** Model streaming at ctx.pace: one conversation per transport, this many measured turns. */
  pacedTurns: number;
}

const PARAMS: Record<Mode, OverheadParams> = {
  smoke: { concurrency: [1, 4], turnsPerConversation: [4, 2], conversations: [1, 4], pacedTurns: 2 },
  quick: { concurrency: [1, 32], turnsPerConversation: [20, 2], conversations: [1, 32], pacedTurns: 3 },
  full: { concurrency: [1, 32], turnsPerConversation: [200, 15], conversations: [1, 32], pacedTurns: 15 },
};
const TRANSPORTS: Transport[] = ['client', 'http'];
/** Replies of a paced turn: shorter than the instant runs' (60–200 words) so that a paced turn takes ~2 s, not ~4. */
const PACED_REPLY_WORDS: [number, number] = [40, 80];

/** The issue's goals at concurrency 1 with the model answering at once (ms). */
export const GOALS = { clientP50: 30, clientP99: 100, httpP50: 40 };

/**
 * The cases of one repeat, in the order they run: transports alternate so both see the same machine load, and
 * which goes first alternates from one repeat to the next (the first case of a run also warms the stack up).
 */
export function overheadCases(p: OverheadParams, repeat = 0): Case[] {
  const transports = repeat % 2 === 0 ? TRANSPORTS : [...TRANSPORTS].reverse();
  const instant = p.concurrency.flatMap((concurrency, i) =>
    transports.map((via): Case => ({
      via,
      concurrency,
      conversations: p.conversations[i]!,
      turnsPerConversation: p.turnsPerConversation[i]!,
      pace: 'instant',
    })),
  );
  const paced = transports.map((via): Case => ({
    via,
    concurrency: 1,
    conversations: 1,
    turnsPerConversation: p.pacedTurns,
    pace: 'paced',
  }));
  return [...instant, ...paced];
}

const caseKey = (c: Case) => `${c.via}-${c.pace}-c${c.concurrency}`;

const PHASES = [
  ['contextMs', 'context (assembly, in the model call or its own step)'],
  ['modelCallMs', 'model call minus model time'],
  ['persistMs', 'persist (persistTurn)'],
  ['dispatchMs', 'Temporal: activity dispatch'],
  ['workflowMs', 'Temporal: workflow tasks'],
  ['apiMs', 'client (+ API) + update round trip'],
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

async function histogram(stack: BenchStack, which: 'api' | 'worker' = 'api', phase = 'total') {
  const text = await stack.metrics(which);
  return {
    sum: promValue(text, 'memoir_turn_duration_seconds_sum', { phase }) ?? 0,
    count: promValue(text, 'memoir_turn_duration_seconds_count', { phase }) ?? 0,
  };
}

const meanMs = (before: { sum: number; count: number }, after: { sum: number; count: number }) =>
  after.count > before.count ? ((after.sum - before.sum) / (after.count - before.count)) * 1000 : NaN;

/**
 * A turn whose model call also assembles its context (patch `model-call-loads-context`) has no context step in its
 * history: its context time is the worker's own measure of that step (the `context` phase of
 * memoir_turn_duration_seconds, mean over the run's turns), taken out of the model call's share.
 */
function splitContextOut(phases: Record<PhaseKey, number>, contextMeanMs: number): void {
  if (phases.contextMs > 0 || !Number.isFinite(contextMeanMs)) return;
  phases.contextMs = contextMeanMs;
  phases.modelCallMs -= contextMeanMs;
}

/** One run at one concurrency: fresh conversations, a warm-up turn each, then the measured turns. */
async function runOnce(
  ctx: SuiteContext,
  stack: BenchStack,
  run: string,
  c: Case,
): Promise<{ stats: RunStats; turns: MeasuredTurn[] }> {
  const { concurrency, conversations, turnsPerConversation: turns, via } = c;
  const script = dialogue({
    turns: turns + 1,
    seed: concurrency * 1000 + Number(run.replace(/\D/g, '') || 0),
    ...(c.pace === 'paced' ? { replyWords: PACED_REPLY_WORDS } : {}),
  });
  const ids = Array.from({ length: conversations }, (_, i) => `ovh-${run}-${caseKey(c)}-${i}`);
  // The first turn of a conversation also starts its workflow: warm-up, not measured. Conversations are created
  // through the API (it stores the conversation's row first, as an application's own create would).
  await closedLoop({ concurrency, total: ids.length, maxMs: 300_000 }, async (_l, i) => {
    await createConversation(stack, ids[i]!);
    return sendTurn(stack, ctx.model, ids[i]!, script[0]!.user, script[0]!.reply, { via });
  });
  const before = await histogram(stack);
  const contextBefore = await histogram(stack, 'worker', 'context');
  const next = new Array<number>(conversations).fill(1);
  const loop = await closedLoop({ concurrency, total: conversations * turns, maxMs: 600_000 }, async (lane) => {
    // A lane owns conversations lane, lane+concurrency, ...: a conversation's turns are sequential, as a user's are.
    const own = ids.map((_, i) => i).filter((i) => i % concurrency === lane);
    const conv = own.reduce((best, i) => (next[i]! < next[best]! ? i : best), own[0]!);
    const n = next[conv]!++;
    const t = script[Math.min(n, turns)]!;
    return sendTurn(stack, ctx.model, ids[conv]!, t.user, t.reply, { via });
  });
  if (loop.errors.length) throw new Error(`overhead run failed: ${loop.errors.slice(0, 3).join('; ')}`);
  const after = await histogram(stack);
  const contextMeanMs = meanMs(contextBefore, await histogram(stack, 'worker', 'context'));
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
      if (p) splitContextOut((t.phases = phaseSplit(t, p)), contextMeanMs);
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
      serverTotalMeanMs: meanMs(before, after),
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
      transports: TRANSPORTS.map((t) => TRANSPORT_LABEL[t]).join(' and '),
      modelLatencyMs: ctx.model.latencyMs,
      pace: paceLabel(ctx.pace),
      pacedTurns: p.pacedTurns,
      pacedReplyWords: PACED_REPLY_WORDS.join('–'),
      repeats: ctx.repeats,
      services: ctx.infra.kind,
      ...ctx.infra.settings,
      topology:
        'API and worker as separate child processes; load generator, in-process client and offline model in the runner',
    };
    const stack = await startBenchStack({ modelUrl: ctx.model.url, bundlePath: ctx.bundlePath, infra: ctx.infra });
    const byCase = new Map<string, { c: Case; runs: RunStats[]; turns: MeasuredTurn[] }>();
    try {
      await warmUp(ctx, stack);
      for (let r = 0; r < ctx.repeats; r++) {
        for (const c of overheadCases(p, r)) {
          ctx.log(`overhead: run ${r + 1}/${ctx.repeats}, ${caseLabel(c, ctx.pace)}`);
          await ctx.model.setPace(c.pace === 'paced' ? ctx.pace : undefined);
          const res = await runOnce(ctx, stack, `r${r}`, c);
          const slot = byCase.get(caseKey(c)) ?? { c, runs: [], turns: [] };
          byCase.set(caseKey(c), slot);
          slot.runs.push(res.stats);
          slot.turns.push(...res.turns);
        }
      }
    } finally {
      await ctx.model.setPace(undefined);
      await stack.stop();
    }
    return report(ctx, params, [...byCase.values()]);
  },
};

/**
 * Untimed turns through both transports before anything is measured: the first turns of a fresh stack pay for
 * code paths compiling, connection pools filling and caches loading, which would land on whichever case runs first.
 */
async function warmUp(ctx: SuiteContext, stack: BenchStack, turns = 5) {
  const script = dialogue({ turns, seed: 1 });
  for (const via of TRANSPORTS) {
    const id = await createConversation(stack, `ovh-warmup-${via}`);
    for (const t of script) await sendTurn(stack, ctx.model, id, t.user, t.reply, { via });
  }
}

const paceLabel = (pace: ModelPace) => `first token ${pace.firstTokenMs} ms then ${pace.tokensPerSecond} tokens/s`;
const caseLabel = (c: Case, pace: ModelPace) =>
  `${TRANSPORT_LABEL[c.via]}, concurrency ${c.concurrency}, model ${c.pace === 'paced' ? `streaming (${paceLabel(pace)})` : 'at once'}`;
const shortLabel = (c: Case) =>
  `${c.via === 'client' ? 'in-process' : 'HTTP'} c${c.concurrency}${c.pace === 'paced' ? ' paced' : ''}`;

type CaseSummary = Record<keyof Omit<RunStats, 'phases'> | PhaseKey, Repeated>;

function summarise(runs: RunStats[]): CaseSummary {
  const fig = (f: (r: RunStats) => number) => repeated(runs.map(f));
  return {
    p50: fig((r) => r.p50),
    p95: fig((r) => r.p95),
    p99: fig((r) => r.p99),
    mean: fig((r) => r.mean),
    totalP50: fig((r) => r.totalP50),
    modelP50: fig((r) => r.modelP50),
    turnsPerSecond: fig((r) => r.turnsPerSecond),
    serverTotalMeanMs: fig((r) => r.serverTotalMeanMs),
    ...(Object.fromEntries(PHASES.map(([k]) => [k, fig((r) => r.phases[k])])) as Record<PhaseKey, Repeated>),
  };
}

/** A goal line: the figure, the goal, and whether the median meets it. */
const goalRow = (what: string, r: Repeated | undefined, goal: number) => [
  what,
  r ? fmtRepeated(r, 1) : '–',
  `≤ ${goal}`,
  !r || !Number.isFinite(r.median) ? '–' : r.median <= goal ? 'met' : `not met (×${fmt(r.median / goal, 2)})`,
];

function report(
  ctx: SuiteContext,
  params: Record<string, unknown>,
  cases: { c: Case; runs: RunStats[]; turns: MeasuredTurn[] }[],
): SuiteOutput {
  const data: Record<string, unknown> = {};
  const summary = new Map<string, CaseSummary>();
  const rows: string[][] = [];
  for (const { c, runs, turns } of cases) {
    const s = summarise(runs);
    summary.set(caseKey(c), s);
    data[caseKey(c)] = {
      ...c,
      ...s,
      turnsMeasured: turns.length,
      turnsWithPhases: turns.filter((t) => t.phases).length,
    };
    rows.push([
      TRANSPORT_LABEL[c.via],
      c.pace === 'paced' ? 'streaming' : 'at once',
      String(c.concurrency),
      fmtRepeated(s.p50, 1),
      fmtRepeated(s.p95, 1),
      fmtRepeated(s.p99, 1),
      fmtRepeated(s.totalP50, 1),
      fmtRepeated(s.modelP50, 1),
      fmtRepeated(s.turnsPerSecond, 1),
      String(turns.length),
    ]);
  }
  const get = (via: Transport, concurrency: number, pace: Case['pace'] = 'instant') =>
    summary.get(caseKey({ via, concurrency, pace, conversations: 0, turnsPerConversation: 0 }));
  const [c1, cN] = [Math.min(...cases.map((x) => x.c.concurrency)), Math.max(...cases.map((x) => x.c.concurrency))];
  const phaseRows = PHASES.map(([k, label]) => [
    label,
    ...cases.map(({ c }) => fmtRepeated(summary.get(caseKey(c))![k], 1)),
  ]);
  const f = footer(ctx, params);
  const phasesSvg = barChart({
    title: 'Where a turn’s overhead goes (mean ms per turn, model time excluded)',
    subtitle: 'Phases from each turn’s workflow history; the bar’s height is the mean overhead',
    yLabel: 'ms per turn',
    categories: cases.map(({ c }) => shortLabel(c)),
    series: PHASES.map(([k, label]) => ({
      name: label,
      values: cases.map(({ c }) => summary.get(caseKey(c))![k].median),
    })),
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
    series: cases.map(({ c, turns }) => {
      const v = turns.map((t) => Math.max(0.1, t.overheadMs)).sort((a, b) => a - b);
      return {
        name: `${shortLabel(c)} (n=${v.length})`,
        points: v.flatMap((x, i): [number, number][] => [
          [x, i / v.length],
          [x, (i + 1) / v.length],
        ]),
        markers: false,
        dashed: c.via === 'http',
      };
    }),
    footer: f,
  });
  const pcts = (s: CaseSummary | undefined) =>
    s ? `${fmtRepeated(s.p50, 1)} / ${fmtRepeated(s.p95, 1)} / ${fmtRepeated(s.p99, 1)} ms` : '–';
  const clientC1 = get('client', c1);
  const httpC1 = get('http', c1);
  const pacedClient = get('client', 1, 'paced');
  const pacedHttp = get('http', 1, 'paced');
  return {
    params,
    data: { ...data, goals: GOALS },
    headlines: [
      {
        label: `Turn overhead p50 / p95 / p99, concurrency ${c1}, in-process client (goal p50 ≤ ${GOALS.clientP50}, p99 ≤ ${GOALS.clientP99} ms)`,
        value: pcts(clientC1),
      },
      {
        label: `Turn overhead p50 / p95 / p99, concurrency ${c1}, HTTP API (goal p50 ≤ ${GOALS.httpP50} ms)`,
        value: pcts(httpC1),
      },
      {
        label: `Turn overhead p50 / p95, concurrency ${cN}, in-process client · HTTP API`,
        value: [get('client', cN), get('http', cN)]
          .map((s) => (s ? `${fmtRepeated(s.p50, 1)} / ${fmtRepeated(s.p95, 1)}` : '–'))
          .join(' · ')
          .concat(' ms'),
      },
      {
        label: `Turn overhead p50, concurrency 1, model streaming (${paceLabel(ctx.pace)}), in-process · HTTP`,
        value: `${pacedClient ? fmtRepeated(pacedClient.p50, 1) : '–'} · ${pacedHttp ? fmtRepeated(pacedHttp.p50, 1) : '–'} ms`,
      },
    ],
    sections: [
      {
        kind: 'text',
        text:
          'Overhead = client-side round trip minus the offline model’s own time for that turn (measured on the model ' +
          'server, streamed or not). Each case is measured through the in-process `MemoirClient` (the runner’s own ' +
          'Temporal connection: an update-with-start, no HTTP hop; with database access, as the API, so a turn is answered ' +
          'when stored: reply on commit) and through the HTTP API (a separate API process), ' +
          'alternating in every repeat. The first turn of each conversation (which also starts its workflow) is a ' +
          `warm-up and not measured. “Streaming” runs the model at ${paceLabel(ctx.pace)} with replies of ` +
          `${PACED_REPLY_WORDS.join('–')} words; Memoir’s work that overlaps the stream (publishing deltas) then hides ` +
          `inside the model time. Services: ${ctx.infra.kind === 'durable' ? 'the durable configuration (file-backed Temporal of the run’s own, PostgreSQL with fsync on)' : 'the shared test services'}.`,
      },
      {
        kind: 'table',
        caption: 'Goals (concurrency 1, model answering at once; median of the runs)',
        table: {
          columns: ['figure', 'measured (ms)', 'goal (ms)', 'verdict'],
          rows: [
            goalRow('in-process client, overhead p50', clientC1?.p50, GOALS.clientP50),
            goalRow('in-process client, overhead p99', clientC1?.p99, GOALS.clientP99),
            goalRow('HTTP API, overhead p50', httpC1?.p50, GOALS.httpP50),
          ],
        },
      },
      {
        kind: 'table',
        table: {
          columns: [
            'transport',
            'model',
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
        table: { columns: ['phase', ...cases.map(({ c }) => shortLabel(c))], rows: phaseRows },
      },
      { kind: 'chart', file: 'overhead-phases.svg', alt: 'Stacked bars: overhead per turn by phase' },
      { kind: 'chart', file: 'overhead-cdf.svg', alt: 'CDF of turn overhead' },
    ],
    charts: [
      { file: 'overhead-phases.svg', svg: phasesSvg },
      { file: 'overhead-cdf.svg', svg: cdfSvg },
    ],
    notes: [
      `API-side mean of memoir_turn_duration_seconds{phase="total"} (HTTP runs): ${cases
        .filter(({ c }) => c.via === 'http')
        .map(({ c }) => `${fmtRepeated(summary.get(caseKey(c))!.serverTotalMeanMs, 1)} ms (${shortLabel(c)})`)
        .join(', ')} (the client round trip adds the loopback HTTP hop).`,
    ],
  };
}
