/**
 * 5. A peer side by side: the same conversation loop on LangGraph JS (StateGraph + PostgresSaver, same offline
 * model, same PostgreSQL), run in this process right after Memoir's. Per-turn overhead (round trip minus the
 * model's own time) and prompt tokens per turn, and their ratios Memoir ÷ peer. Like for like: Memoir through its
 * in-process `MemoirClient` against the in-process graph; Memoir through its HTTP API is reported beside it. In the
 * same repeats, on the same Temporal server, the SDK's floor for a turn (an update whose handler runs one activity
 * that does nothing, eager or local: bench/wft/floor.ts), to read Memoir's ratio against what Temporal itself costs.
 */
import { createPeerAgent, peerMissing, peerVersions } from '../peers/langgraph/agent';
import { dialogue, systemPrompt } from '../lib/dialogue';
import { createConversation, nextMessageId, REPLY_MODEL, sendTurn, type Transport } from '../lib/load';
import { marked } from '../lib/offline';
import { startBenchStack, type BenchStack } from '../lib/stack';
import { fmtRepeated, mean, median, percentiles, repeated, type Repeated } from '../lib/stats';
import { footer, type Mode, type Suite, type SuiteContext } from '../lib/suite';
import { barChart, lineChart } from '../lib/svg-chart';
import { startFloor } from '../wft/floor';

const TURNS: Record<Mode, number> = { smoke: 4, quick: 16, full: 100 };
const SYSTEM_TOKENS = 1_000;
const MODEL = REPLY_MODEL;

interface Side {
  overheadMs: number[];
  promptTokens: number[];
}

/** One repeat: Memoir through the in-process client, the peer, Memoir through the HTTP API, the two floors. */
interface Run {
  memoir: Side;
  peer: Side;
  http: Side;
  /** Round trips of the floor turns (no model: all of it is overhead), the first a warm-up. */
  floor: number[];
  floorLocal: number[];
}

/** The goal: Memoir (in-process) no slower per turn than the in-process graph. */
const GOAL_RATIO = 1.0;

/** Memoir's prompt tokens per turn come from its ledger: the reply call plus the memory upkeep after that turn. */
async function memoirSide(
  ctx: SuiteContext,
  stack: BenchStack,
  run: number,
  system: string,
  turns: number,
  via: Transport,
) {
  const id = await createConversation(stack, `peer-${run}-${via}`, system);
  const side: Side = { overheadMs: [], promptTokens: new Array<number>(turns).fill(0) };
  for (const t of dialogue({ turns, seed: 99 })) {
    side.overheadMs.push((await sendTurn(stack, ctx.model, id, t.user, t.reply, { via })).overheadMs);
  }
  if (!(await stack.settled(id))) throw new Error('memory upkeep did not finish within 2 minutes');
  for (const row of await stack.ledger(id)) {
    side.promptTokens[Math.min(Math.max(row.turn, 1), turns) - 1]! += row.input + row.cacheRead + row.cacheWrite;
  }
  return side;
}

async function peerSide(ctx: SuiteContext, run: number, system: string, turns: number): Promise<Side> {
  // The same PostgreSQL cluster as Memoir's (the run's durable one by default), a database of its own.
  const db = await ctx.infra.createDatabase();
  const agent = await createPeerAgent({
    modelUrl: ctx.model.url,
    model: MODEL,
    databaseUrl: db.url,
    system,
    maxTokens: 1024,
  });
  try {
    const side: Side = { overheadMs: [], promptTokens: [] };
    for (const t of dialogue({ turns, seed: 99 })) {
      const id = nextMessageId('p');
      await ctx.model.script([
        { action: { kind: 'reply', text: t.reply }, times: 1, lastUserContains: `[#${id}]`, model: MODEL },
      ]);
      const t0 = performance.now();
      const r = await agent.turn(`peer-${run}`, marked(id, t.user));
      side.overheadMs.push(performance.now() - t0 - ctx.model.modelMs(id));
      side.promptTokens.push(r.usage.input + r.usage.cacheRead + r.usage.cacheWrite);
    }
    return side;
  } finally {
    await agent.close();
    await db.drop();
  }
}

export const peerSuite: Suite = {
  id: 'peer',
  title: 'Side by side with LangGraph JS',
  async run(ctx) {
    const missing = peerMissing();
    if (missing) return { skipped: missing };
    const turns = TURNS[ctx.mode];
    const system = systemPrompt(SYSTEM_TOKENS);
    const params = {
      turns,
      concurrency: 1,
      systemPromptTokens: SYSTEM_TOKENS,
      model: MODEL,
      modelLatencyMs: ctx.model.latencyMs,
      repeats: ctx.repeats,
      services: ctx.infra.kind,
      ...ctx.infra.settings,
      peer: Object.entries(peerVersions())
        .map(([k, v]) => `${k}@${v}`)
        .join(' '),
    };
    const runs: Run[] = [];
    const stack = await startBenchStack({ modelUrl: ctx.model.url, bundlePath: ctx.bundlePath, infra: ctx.infra });
    const floors = await startFloor(ctx.infra.temporalAddress);
    try {
      for (let r = 0; r < ctx.repeats; r++) {
        // The like-for-like pair (in-process client, in-process graph) runs back to back; HTTP after them.
        ctx.log(
          `peer: run ${r + 1}/${ctx.repeats}: Memoir in-process, LangGraph, Memoir over HTTP; ${turns} turns each`,
        );
        await ctx.model.reset();
        const memoir = await memoirSide(ctx, stack, r, system, turns, 'client');
        await ctx.model.reset();
        const peer = await peerSide(ctx, r, system, turns);
        await ctx.model.reset();
        const http = await memoirSide(ctx, stack, r, system, turns, 'http');
        const floor = await floors.side('floor', turns);
        const floorLocal = await floors.side('floorLocal', turns);
        runs.push({ memoir, peer, http, floor, floorLocal });
      }
    } finally {
      await floors.stop();
      await stack.stop();
    }
    // The first turn of each side is a warm-up (workflow start; graph and pool warm-up).
    const stat = (pick: (r: Run) => number) => repeated(runs.map(pick));
    const ov = (ms: number[]) => percentiles(ms.slice(1));
    const ratio = (a: number[], b: number[]) => median(a.slice(1)) / median(b.slice(1));
    const fig = {
      memoirP50: stat((r) => ov(r.memoir.overheadMs).p50),
      memoirP95: stat((r) => ov(r.memoir.overheadMs).p95),
      httpP50: stat((r) => ov(r.http.overheadMs).p50),
      httpP95: stat((r) => ov(r.http.overheadMs).p95),
      peerP50: stat((r) => ov(r.peer.overheadMs).p50),
      peerP95: stat((r) => ov(r.peer.overheadMs).p95),
      overheadRatio: stat((r) => ratio(r.memoir.overheadMs, r.peer.overheadMs)),
      httpOverheadRatio: stat((r) => ratio(r.http.overheadMs, r.peer.overheadMs)),
      floorP50: stat((r) => ov(r.floor).p50),
      floorP95: stat((r) => ov(r.floor).p95),
      floorLocalP50: stat((r) => ov(r.floorLocal).p50),
      floorLocalP95: stat((r) => ov(r.floorLocal).p95),
      floorRatio: stat((r) => ratio(r.floor, r.peer.overheadMs)),
      floorLocalRatio: stat((r) => ratio(r.floorLocal, r.peer.overheadMs)),
      memoirOverFloor: stat((r) => ratio(r.memoir.overheadMs, r.floor)),
      memoirTokens: stat((r) => mean(r.memoir.promptTokens)),
      peerTokens: stat((r) => mean(r.peer.promptTokens)),
      tokenRatio: stat((r) => mean(r.memoir.promptTokens) / mean(r.peer.promptTokens)),
      memoirLastTokens: stat((r) => r.memoir.promptTokens.at(-1)!),
      peerLastTokens: stat((r) => r.peer.promptTokens.at(-1)!),
      lastTurnTokenRatio: stat((r) => r.memoir.promptTokens.at(-1)! / r.peer.promptTokens.at(-1)!),
    } satisfies Record<string, Repeated>;
    const f = footer(ctx, params);
    const mid = runs[Math.floor(runs.length / 2)]!;
    const overheadSvg = barChart({
      title: 'Per-turn overhead: Memoir vs LangGraph JS (ms, model time excluded)',
      subtitle:
        'Memoir through its in-process client and its HTTP API; Temporal’s floor for a turn; the peer called in-process',
      yLabel: 'ms per turn',
      categories: ['p50', 'p95'],
      series: [
        {
          name: 'Memoir, in-process client',
          values: [fig.memoirP50.median, fig.memoirP95.median],
          lo: [fig.memoirP50.min, fig.memoirP95.min],
          hi: [fig.memoirP50.max, fig.memoirP95.max],
        },
        {
          name: 'Memoir, HTTP API',
          values: [fig.httpP50.median, fig.httpP95.median],
          lo: [fig.httpP50.min, fig.httpP95.min],
          hi: [fig.httpP50.max, fig.httpP95.max],
        },
        {
          name: 'Temporal floor (one eager no-op activity)',
          values: [fig.floorP50.median, fig.floorP95.median],
          lo: [fig.floorP50.min, fig.floorP95.min],
          hi: [fig.floorP50.max, fig.floorP95.max],
        },
        {
          name: 'LangGraph JS + PostgresSaver',
          values: [fig.peerP50.median, fig.peerP95.median],
          lo: [fig.peerP50.min, fig.peerP95.min],
          hi: [fig.peerP50.max, fig.peerP95.max],
        },
      ],
      valueLabel: (v) => `${v.toFixed(1)} ms`,
      footer: f,
    });
    const tokensSvg = lineChart({
      title: 'Prompt tokens per turn: Memoir vs LangGraph JS',
      subtitle:
        'The peer sends its whole thread every turn; Memoir its assembled context, plus its memory upkeep calls',
      xLabel: 'turn',
      yLabel: 'prompt tokens',
      series: [
        {
          name: 'Memoir',
          points: mid.memoir.promptTokens.map((v, i) => [i + 1, v] as [number, number]),
          markers: false,
        },
        {
          name: 'LangGraph JS',
          points: mid.peer.promptTokens.map((v, i) => [i + 1, v] as [number, number]),
          markers: false,
        },
      ],
      footer: f,
    });
    return {
      params,
      data: fig,
      headlines: [
        {
          label: `Per-turn overhead, Memoir in-process ÷ LangGraph JS, like for like (median of ${turns - 1} turns; goal ≤ ${GOAL_RATIO.toFixed(1)}×)`,
          value: fmtRepeated(fig.overheadRatio, 2),
        },
        {
          label: `Per-turn overhead, Memoir over HTTP ÷ LangGraph JS in-process (not like for like)`,
          value: fmtRepeated(fig.httpOverheadRatio, 2),
        },
        {
          label:
            'Temporal’s own floor for a turn ÷ LangGraph JS, same run: update + one activity that does nothing, ' +
            'eager (Memoir’s shape) · local (MEMOIR_MODEL_CALL=local’s)',
          value:
            `${fmtRepeated(fig.floorRatio, 2)} · ${fmtRepeated(fig.floorLocalRatio, 2)} ` +
            `(p50 ${fmtRepeated(fig.floorP50, 1)} · ${fmtRepeated(fig.floorLocalP50, 1)} ms)`,
        },
        {
          label: `Prompt tokens per turn, Memoir ÷ LangGraph JS (mean over ${turns} turns)`,
          value: fmtRepeated(fig.tokenRatio, 3),
        },
      ],
      sections: [
        {
          kind: 'text',
          text:
            `The same ${turns}-turn conversation (seeded; ${SYSTEM_TOKENS}-token system prompt; the offline model scripted ` +
            'to give every side the same replies) through Memoir’s in-process `MemoirClient`, then — in this same ' +
            'process, right after — through a LangGraph JS StateGraph (messages channel, one node calling ' +
            'ChatAnthropic) checkpointed by PostgresSaver on a fresh database of the same PostgreSQL, then through ' +
            'Memoir’s HTTP API. The first pair is like for like: both called from the measuring process, no HTTP hop ' +
            '(Memoir’s turn still crosses the Temporal server and a worker process and is durable at every step; the ' +
            'graph checkpoints once per step). The HTTP row adds the loopback hop and the API process. Services: ' +
            `${ctx.infra.kind === 'durable' ? 'the run’s durable configuration (file-backed Temporal, PostgreSQL with fsync on) for Memoir and the peer' : 'the shared test services'}.`,
        },
        {
          kind: 'table',
          table: {
            columns: [
              'figure',
              'Memoir (in-process client)',
              'LangGraph JS',
              'Memoir ÷ LangGraph',
              'Memoir (HTTP API)',
              'HTTP ÷ LangGraph',
            ],
            rows: [
              [
                'overhead p50 (ms)',
                fmtRepeated(fig.memoirP50, 1),
                fmtRepeated(fig.peerP50, 1),
                `${fmtRepeated(fig.overheadRatio, 2)} (goal ≤ ${GOAL_RATIO.toFixed(1)})`,
                fmtRepeated(fig.httpP50, 1),
                fmtRepeated(fig.httpOverheadRatio, 2),
              ],
              [
                'overhead p95 (ms)',
                fmtRepeated(fig.memoirP95, 1),
                fmtRepeated(fig.peerP95, 1),
                '',
                fmtRepeated(fig.httpP95, 1),
                '',
              ],
              [
                'prompt tokens per turn (mean)',
                fmtRepeated(fig.memoirTokens, 0),
                fmtRepeated(fig.peerTokens, 0),
                fmtRepeated(fig.tokenRatio, 3),
                '',
                '',
              ],
              [
                'prompt tokens, last turn',
                fmtRepeated(fig.memoirLastTokens, 0),
                fmtRepeated(fig.peerLastTokens, 0),
                fmtRepeated(fig.lastTurnTokenRatio, 3),
                '',
                '',
              ],
            ],
          },
        },
        {
          kind: 'text',
          text:
            '**Against Temporal’s own floor.** In the same repeats and on the same Temporal server, a workflow whose ' +
            'update handler runs one activity that does nothing and answers (bench/wft/floor-workflows.ts, on ' +
            'Memoir’s worker options in a worker process of its own; each turn sent as `MemoirClient` sends one, ' +
            'update-with-start): the least a turn of that shape can cost here, with no storage, no model and no ' +
            'context. “Eager” is the shape of Memoir’s default turn (two workflow tasks and an eager activity), ' +
            '“local” the shape of `MEMOIR_MODEL_CALL=local` (one workflow task). A floor ratio near or above 1.0 ' +
            'means the goal Memoir ÷ LangGraph ≤ 1.0 is out of reach for that shape on this machine, whatever Memoir ' +
            `does above the floor. Memoir’s overhead ÷ the eager floor: ${fmtRepeated(fig.memoirOverFloor, 2)}.`,
        },
        {
          kind: 'table',
          table: {
            columns: ['turn', 'overhead p50 (ms)', 'p95 (ms)', '÷ LangGraph JS (p50)'],
            rows: [
              [
                'Memoir, in-process client',
                fmtRepeated(fig.memoirP50, 1),
                fmtRepeated(fig.memoirP95, 1),
                fmtRepeated(fig.overheadRatio, 2),
              ],
              [
                'Temporal floor: update + one eager activity that does nothing',
                fmtRepeated(fig.floorP50, 1),
                fmtRepeated(fig.floorP95, 1),
                fmtRepeated(fig.floorRatio, 2),
              ],
              [
                'Temporal floor: update + one local activity that does nothing',
                fmtRepeated(fig.floorLocalP50, 1),
                fmtRepeated(fig.floorLocalP95, 1),
                fmtRepeated(fig.floorLocalRatio, 2),
              ],
              ['LangGraph JS + PostgresSaver', fmtRepeated(fig.peerP50, 1), fmtRepeated(fig.peerP95, 1), '1'],
            ],
          },
        },
        { kind: 'chart', file: 'peer-overhead.svg', alt: 'Overhead p50/p95, Memoir vs LangGraph' },
        { kind: 'chart', file: 'peer-tokens.svg', alt: 'Prompt tokens per turn, Memoir vs LangGraph' },
      ],
      charts: [
        { file: 'peer-overhead.svg', svg: overheadSvg },
        { file: 'peer-tokens.svg', svg: tokensSvg },
      ],
    };
  },
};
