/**
 * 5. A peer side by side: the same conversation loop on LangGraph JS (StateGraph + PostgresSaver, same offline
 * model), run in this process right after Memoir's. Per-turn overhead (round trip minus the model's own time) and
 * prompt tokens per turn, and their ratios Memoir ÷ peer.
 */
import { freshDatabase } from '../../test/helpers/stack';
import { createPeerAgent, peerMissing, peerVersions } from '../peers/langgraph/agent';
import { dialogue, systemPrompt } from '../lib/dialogue';
import { createConversation, nextMessageId, REPLY_MODEL, sendTurn } from '../lib/load';
import { marked } from '../lib/offline';
import { startBenchStack, type BenchStack } from '../lib/stack';
import { fmtRepeated, mean, median, percentiles, repeated, type Repeated } from '../lib/stats';
import { footer, type Mode, type Suite, type SuiteContext } from '../lib/suite';
import { barChart, lineChart } from '../lib/svg-chart';

const TURNS: Record<Mode, number> = { smoke: 4, quick: 16, full: 100 };
const SYSTEM_TOKENS = 1_000;
const MODEL = REPLY_MODEL;

interface Side {
  overheadMs: number[];
  promptTokens: number[];
}

/** Memoir's prompt tokens per turn come from its ledger: the reply call plus the memory upkeep after that turn. */
async function memoirSide(ctx: SuiteContext, stack: BenchStack, run: number, system: string, turns: number) {
  const id = await createConversation(stack, `peer-${run}`, system);
  const side: Side = { overheadMs: [], promptTokens: new Array<number>(turns).fill(0) };
  for (const t of dialogue({ turns, seed: 99 })) {
    side.overheadMs.push((await sendTurn(stack, ctx.model, id, t.user, t.reply)).overheadMs);
  }
  if (!(await stack.settled(id))) throw new Error('memory upkeep did not finish within 2 minutes');
  for (const row of await stack.ledger(id)) {
    side.promptTokens[Math.min(Math.max(row.turn, 1), turns) - 1]! += row.input + row.cacheRead + row.cacheWrite;
  }
  return side;
}

async function peerSide(ctx: SuiteContext, run: number, system: string, turns: number): Promise<Side> {
  const db = await freshDatabase();
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
      peer: Object.entries(peerVersions())
        .map(([k, v]) => `${k}@${v}`)
        .join(' '),
    };
    const runs: { memoir: Side; peer: Side }[] = [];
    const stack = await startBenchStack({ modelUrl: ctx.model.url, bundlePath: ctx.bundlePath });
    try {
      for (let r = 0; r < ctx.repeats; r++) {
        ctx.log(`peer: run ${r + 1}/${ctx.repeats}: Memoir, then LangGraph, ${turns} turns each`);
        await ctx.model.reset();
        const memoir = await memoirSide(ctx, stack, r, system, turns);
        await ctx.model.reset();
        const peer = await peerSide(ctx, r, system, turns);
        runs.push({ memoir, peer });
      }
    } finally {
      await stack.stop();
    }
    // The first turn of each side is a warm-up (workflow start; graph and pool warm-up).
    const stat = (pick: (r: { memoir: Side; peer: Side }) => number) => repeated(runs.map(pick));
    const ov = (s: Side) => percentiles(s.overheadMs.slice(1));
    const fig = {
      memoirP50: stat((r) => ov(r.memoir).p50),
      memoirP95: stat((r) => ov(r.memoir).p95),
      peerP50: stat((r) => ov(r.peer).p50),
      peerP95: stat((r) => ov(r.peer).p95),
      overheadRatio: stat((r) => median(r.memoir.overheadMs.slice(1)) / median(r.peer.overheadMs.slice(1))),
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
      subtitle: 'Memoir through its HTTP API (separate API and worker processes); the peer called in-process',
      yLabel: 'ms per turn',
      categories: ['p50', 'p95'],
      series: [
        {
          name: 'Memoir',
          values: [fig.memoirP50.median, fig.memoirP95.median],
          lo: [fig.memoirP50.min, fig.memoirP95.min],
          hi: [fig.memoirP50.max, fig.memoirP95.max],
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
          label: `Per-turn overhead, Memoir ÷ LangGraph JS (median of ${turns - 1} turns)`,
          value: fmtRepeated(fig.overheadRatio, 2),
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
            'to give both the same replies) through Memoir, then — in this same process, right after — through a ' +
            'LangGraph JS StateGraph (messages channel, one node calling ChatAnthropic) checkpointed by PostgresSaver ' +
            'on a fresh database of the same PostgreSQL. Not like for like: Memoir’s turn crosses HTTP, a separate API ' +
            'process, the Temporal server and a worker process and is durable at every step; the peer runs in the ' +
            'caller’s process and checkpoints once per step.',
        },
        {
          kind: 'table',
          table: {
            columns: ['figure', 'Memoir', 'LangGraph JS', 'Memoir ÷ LangGraph'],
            rows: [
              [
                'overhead p50 (ms)',
                fmtRepeated(fig.memoirP50, 1),
                fmtRepeated(fig.peerP50, 1),
                fmtRepeated(fig.overheadRatio, 2),
              ],
              ['overhead p95 (ms)', fmtRepeated(fig.memoirP95, 1), fmtRepeated(fig.peerP95, 1), ''],
              [
                'prompt tokens per turn (mean)',
                fmtRepeated(fig.memoirTokens, 0),
                fmtRepeated(fig.peerTokens, 0),
                fmtRepeated(fig.tokenRatio, 3),
              ],
              [
                'prompt tokens, last turn',
                fmtRepeated(fig.memoirLastTokens, 0),
                fmtRepeated(fig.peerLastTokens, 0),
                fmtRepeated(fig.lastTurnTokenRatio, 3),
              ],
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
