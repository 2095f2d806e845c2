/**
 * 3. Token cost against a naive agent: one long conversation sent (a) with the full history every turn and no
 * caching, (b) full history with a cache breakpoint on the newest message, (c) through Memoir. Prompt tokens billed
 * per turn, total cost by the shipped pricing table, the ratio to (a), and the steady-state prompt-cache hit ratio.
 */
import { dialogue, systemPrompt } from '../lib/dialogue';
import { createConversation, REPLY_MODEL, sendTurn } from '../lib/load';
import { naiveConversation, promptTokens, type TurnUsage } from '../lib/naive-agent';
import { startBenchStack, type BenchStack } from '../lib/stack';
import { fmtRepeated, repeated, sum, type Repeated } from '../lib/stats';
import { footer, type Mode, type Suite, type SuiteContext } from '../lib/suite';
import { lineChart } from '../lib/svg-chart';
import { BREAKDOWN_COLUMNS, breakdown, breakdownCells, replyRows, type UsageRow } from './cost-breakdown';

const TURNS: Record<Mode, number> = { smoke: 8, quick: 60, full: 300 };
const SYSTEM_TOKENS = 1_000;
/** The model Memoir answers with (the first of its chain), so that all three are priced alike. */
const MODEL = REPLY_MODEL;
const MAX_TOKENS = 1_024;

/** The three agents both cost suites compare, with their labels. */
export const METHODS = [
  ['naive', '(a) naive: full history, no caching'],
  ['cached', '(b) full history + prompt caching'],
  ['memoir', '(c) Memoir'],
] as const;
export type Method = (typeof METHODS)[number][0];

interface MethodRun {
  perTurn: TurnUsage[];
  /** Memoir only: what memory upkeep (summaries, facts) added, included in perTurn. */
  upkeep?: TurnUsage;
  /** Memoir only: the ledger's rows, for the breakdown by token class. */
  rows?: UsageRow[];
}

/** Cache reads over all prompt tokens, in the second half of the conversation. */
function steadyHitRatio(perTurn: TurnUsage[]): number {
  const tail = perTurn.slice(Math.floor(perTurn.length / 2));
  const prompt = sum(tail.map(promptTokens));
  return prompt === 0 ? 0 : sum(tail.map((u) => u.cacheRead)) / prompt;
}

/**
 * Memoir's side, from the `llm_calls` ledger once the conversation has settled: each turn's reply call plus the
 * memory upkeep calls (rolling summaries, fact extraction) the workflow made after that turn.
 */
async function memoirConversation(ctx: SuiteContext, stack: BenchStack, run: number, system: string) {
  const id = await createConversation(stack, `cost-${run}`, system);
  const turns = dialogue({ turns: TURNS[ctx.mode] });
  for (const t of turns) await sendTurn(stack, ctx.model, id, t.user, t.reply);
  if (!(await stack.settled(id))) throw new Error('memory upkeep did not finish within 2 minutes');
  const zero = (): TurnUsage => ({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0, costUsd: 0 });
  const perTurn = turns.map(zero);
  const upkeep = zero();
  const ledger = await stack.ledger(id);
  for (const row of ledger) {
    const turn = perTurn[Math.min(Math.max(row.turn, 1), turns.length) - 1]!;
    for (const target of row.purpose === 'reply' ? [turn] : [turn, upkeep]) {
      target.input += row.input;
      target.output += row.output;
      target.cacheRead += row.cacheRead;
      target.cacheWrite += row.cacheWrite;
      target.costUsd += row.costUsd;
    }
  }
  return { perTurn, upkeep, rows: ledger.map((r) => ({ ...r, cacheWrite5m: r.cacheWrite - r.cacheWrite1h })) };
}

export const costSuite: Suite = {
  id: 'cost',
  title: 'Token cost against a naive agent',
  async run(ctx) {
    const turns = TURNS[ctx.mode];
    const system = systemPrompt(SYSTEM_TOKENS);
    const params = {
      turns,
      systemPromptTokens: SYSTEM_TOKENS,
      userWords: '15-70',
      replyWords: '60-200',
      model: MODEL,
      pricing: 'src/model/pricing.ts DEFAULT_PRICING',
      memoirRecentMessages: process.env.MEMOIR_RECENT_MESSAGES ?? '10 (default)',
      repeats: ctx.repeats,
    };
    const runs: Record<Method, MethodRun[]> = { naive: [], cached: [], memoir: [] };
    const stack = await startBenchStack({ modelUrl: ctx.model.url, bundlePath: ctx.bundlePath });
    try {
      for (let r = 0; r < ctx.repeats; r++) {
        for (const [method] of METHODS) {
          ctx.log(`cost: run ${r + 1}/${ctx.repeats}, ${method}, ${turns} turns`);
          // Each method starts from an empty prompt cache.
          await ctx.model.reset();
          runs[method].push(
            method === 'memoir'
              ? await memoirConversation(ctx, stack, r, system)
              : {
                  perTurn: await naiveConversation({
                    bench: ctx.model,
                    model: MODEL,
                    system,
                    turns: dialogue({ turns }),
                    cache: method === 'cached',
                    maxTokens: MAX_TOKENS,
                  }),
                },
          );
        }
      }
    } finally {
      await stack.stop();
    }

    const fig = (m: Method, f: (p: TurnUsage[]) => number): Repeated => repeated(runs[m].map((r) => f(r.perTurn)));
    const totalsOf = (m: Method) => ({
      promptTokens: fig(m, (p) => sum(p.map(promptTokens))),
      cacheReadTokens: fig(m, (p) => sum(p.map((u) => u.cacheRead))),
      costUsd: fig(m, (p) => sum(p.map((u) => u.costUsd))),
      lastTurnPromptTokens: fig(m, (p) => promptTokens(p.at(-1)!)),
      steadyStateCacheHitRatio: fig(m, steadyHitRatio),
    });
    const totals = { naive: totalsOf('naive'), cached: totalsOf('cached'), memoir: totalsOf('memoir') };
    const ratio = (m: Method, key: string) =>
      repeated(
        runs[m].map(
          (r, i) =>
            sum(r.perTurn.map(key === 'cost' ? (u) => u.costUsd : promptTokens)) /
            sum(runs.naive[i]!.perTurn.map(key === 'cost' ? (u) => u.costUsd : promptTokens)),
        ),
      );
    const costRatio = Object.fromEntries(METHODS.map(([m]) => [m, ratio(m, 'cost')])) as Record<Method, Repeated>;
    const tokenRatio = Object.fromEntries(METHODS.map(([m]) => [m, ratio(m, 'tokens')])) as Record<Method, Repeated>;

    const upkeepCost = repeated(runs.memoir.map((r) => r.upkeep?.costUsd ?? 0));
    const upkeepShare = repeated(
      runs.memoir.map((r) => (r.upkeep?.costUsd ?? 0) / sum(r.perTurn.map((u) => u.costUsd))),
    );
    // The per-turn series of the median run (all runs are identical when the model is deterministic).
    const mid = (m: Method) => runs[m][Math.floor(runs[m].length / 2)]!.perTurn;
    const f = footer(ctx, params);
    const tokensSvg = lineChart({
      title: 'Prompt tokens billed per turn',
      subtitle:
        'input + cache writes + cache reads, as the API reports them; (b) bills most of them as cheap cache reads',
      xLabel: 'turn',
      yLabel: 'prompt tokens',
      series: METHODS.map(([m, label]) => ({
        name: label,
        points: mid(m).map((u, i) => [i + 1, promptTokens(u)] as [number, number]),
        dashed: m === 'cached',
        markers: false,
      })),
      footer: f,
    });
    const costSvg = lineChart({
      title: 'Cumulative cost of the conversation (USD)',
      subtitle: `${MODEL} at the shipped pricing table; input, cache and output tokens`,
      xLabel: 'turn',
      yLabel: 'USD',
      series: METHODS.map(([m, label]) => {
        let acc = 0;
        return {
          name: label,
          points: mid(m).map((u, i) => [i + 1, (acc += u.costUsd)] as [number, number]),
          markers: false,
        };
      }),
      footer: f,
    });
    // Where the money goes in the median run, by token class.
    const midRun = (m: Method) => runs[m][Math.floor(runs[m].length / 2)]!;
    const classes = Object.fromEntries(
      METHODS.map(([m]) => [m, breakdown(midRun(m).rows ?? replyRows(MODEL, midRun(m).perTurn))]),
    ) as Record<Method, ReturnType<typeof breakdown>>;
    const rows = METHODS.map(([m, label]) => [
      label,
      fmtRepeated(totals[m].promptTokens, 0),
      fmtRepeated(totals[m].cacheReadTokens, 0),
      fmtRepeated(totals[m].lastTurnPromptTokens, 0),
      fmtRepeated(totals[m].costUsd, 4),
      fmtRepeated(costRatio[m], 3),
      fmtRepeated(tokenRatio[m], 3),
      fmtRepeated(totals[m].steadyStateCacheHitRatio, 3),
    ]);
    return {
      params,
      data: {
        totals,
        upkeepCostUsd: upkeepCost,
        costByClass: classes,
        upkeepCostShare: upkeepShare,
        costRatioToNaive: costRatio,
        promptTokenRatioToNaive: tokenRatio,
        perTurn: Object.fromEntries(METHODS.map(([m]) => [m, mid(m)])),
      },
      headlines: [
        {
          label: `Cost of a ${turns}-turn conversation, (b) ÷ (a) and (c) Memoir ÷ (a)`,
          value: `${fmtRepeated(costRatio.cached, 3)} and ${fmtRepeated(costRatio.memoir, 3)}`,
        },
        {
          label: 'Prompt-cache hit ratio at steady state, (b) and (c) Memoir',
          value: `${fmtRepeated(totals.cached.steadyStateCacheHitRatio, 3)} and ${fmtRepeated(totals.memoir.steadyStateCacheHitRatio, 3)}`,
        },
      ],
      sections: [
        {
          kind: 'text',
          text:
            `The same ${turns}-turn conversation (seeded, ${SYSTEM_TOKENS}-token system prompt) three ways; the offline ` +
            'model answers every turn with the same scripted reply and accounts prompt caching as the Messages API does. ' +
            'Steady state = the second half of the turns.',
        },
        {
          kind: 'table',
          table: {
            columns: [
              'method',
              'prompt tokens (total)',
              'of which cache reads',
              'prompt tokens, last turn',
              'cost (USD)',
              'cost ÷ (a)',
              'prompt tokens ÷ (a)',
              'cache hit ratio, steady state',
            ],
            rows,
          },
        },
        {
          kind: 'text',
          text: '**Where the money goes** (median run), by token class, priced by src/model/pricing.ts:',
        },
        {
          kind: 'table',
          table: {
            columns: ['method', ...BREAKDOWN_COLUMNS],
            rows: METHODS.map(([m, l]) => [l, ...breakdownCells(classes[m])]),
          },
        },
        { kind: 'chart', file: 'cost-tokens-per-turn.svg', alt: 'Prompt tokens per turn for (a), (b), (c)' },
        { kind: 'chart', file: 'cost-cumulative.svg', alt: 'Cumulative cost over the conversation' },
      ],
      notes: [
        `Memoir's figures include its memory upkeep (rolling summaries and fact extraction, on its summary model), ` +
          `read from its llm_calls ledger: ${fmtRepeated(upkeepCost, 4)} USD, ${fmtRepeated(upkeepShare, 3)} of its cost.`,
      ],
      charts: [
        { file: 'cost-tokens-per-turn.svg', svg: tokensSvg },
        { file: 'cost-cumulative.svg', svg: costSvg },
      ],
    };
  },
};
