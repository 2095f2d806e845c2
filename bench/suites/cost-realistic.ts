/**
 * 6. Cost over a realistic long conversation: a LoCoMo development conversation fed turn by turn (speaker A as the
 * user, B's recorded lines as the replies), its sessions separated by pauses longer than any cache TTL — the
 * offline model's cache clock is advanced, nothing sleeps — sent three ways in one run: (a) naive, (b) full history
 * with a breakpoint on the newest message, (c) Memoir through its API. Reported: cost, the ratios, the cache hit on
 * the turns after a session's first, and recall of the conversation's questions on the same feed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { systemPrompt } from '../lib/dialogue';
import { closedLoop, createConversation, REPLY_MODEL, sendTurn } from '../lib/load';
import { evidenceRecall, loadLocomo, pool, type LocomoConversation } from '../lib/locomo';
import { naiveConversation, promptTokens, type TurnUsage } from '../lib/naive-agent';
import { startBenchStack, type BenchStack } from '../lib/stack';
import { fmt, sum } from '../lib/stats';
import { footer, type Mode, type Suite, type SuiteContext } from '../lib/suite';
import { lineChart } from '../lib/svg-chart';
import { DEFAULT_PRICING } from '../../src/model/pricing';
import { METHODS, type Method } from './cost';
import { BREAKDOWN_COLUMNS, breakdown, breakdownCells, replyRows, type UsageRow } from './cost-breakdown';
import { DEFAULT_LOCOMO_PATH, sessionExchanges } from './locomo';

/**
 * The conversation fed: the dev split's with ~300 turns (328), all of it; smoke keeps its first sessions.
 * `COST_LOCOMO_CONVERSATION` feeds another of the split instead (to show a figure is not one conversation's luck).
 */
const CONVERSATION = process.env.COST_LOCOMO_CONVERSATION ?? 'conv-42';
const SESSIONS: Record<Mode, number> = { smoke: 3, quick: Infinity, full: Infinity };
const SYSTEM_TOKENS = 1_000;
/** Pause between sessions: longer than the 1-hour TTL, so every cache entry has expired. */
const PAUSE_MS = 6 * 60 * 60_000;
const MAX_TOKENS = 1_024;
/**
 * Memoir's idle upkeep (`MEMOIR_COMPACT_WHEN_IDLE`, 10 min by default) runs on the workflow's clock, which the
 * benchmark cannot advance: a 6 h pause that lasts milliseconds would never let it fire, although it always fires in
 * a real pause. The pause is compressed for Memoir the way it is for the cache: the idle threshold is scaled down to
 * this (still far longer than the gap between two turns of a session), and each pause lasts until the idle upkeep
 * has run.
 */
const IDLE_UPKEEP = '2s';
const IDLE_UPKEEP_MS = 2_000;
const FILL_BUDGET = 4_000;

const zero = (): TurnUsage => ({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0, costUsd: 0 });
const add = (t: TurnUsage, u: TurnUsage) => {
  t.input += u.input;
  t.output += u.output;
  t.cacheRead += u.cacheRead;
  t.cacheWrite += u.cacheWrite;
  t.costUsd += u.costUsd;
};

/** Cache reads over prompt tokens, on the turns that are not a session's first. */
function hitAfterFirst(perTurn: TurnUsage[], firsts: Set<number>): number {
  const rest = perTurn.filter((_, i) => !firsts.has(i));
  const prompt = sum(rest.map(promptTokens));
  return prompt === 0 ? 0 : sum(rest.map((u) => u.cacheRead)) / prompt;
}

interface MemoirRun {
  /** Reply calls only, per turn. */
  replies: TurnUsage[];
  /** Reply calls plus the upkeep (summaries, facts) that ran after each turn. */
  perTurn: TurnUsage[];
  upkeep: TurnUsage;
  /** The ledger's rows, for the breakdown by token class. */
  rows: UsageRow[];
  /** Tokens of recalled memories sent per turn (after the last breakpoint: billed at the full input price). */
  recallTokens: number[];
  recall: { turnMode: number; fill: number; n: number; recalledTurns: number };
}

/**
 * Waits out a compressed pause: at least the scaled idle threshold, then until the idle upkeep it triggers (a fold
 * of what can be folded, facts caught up) has finished.
 */
async function idleUpkeep(stack: BenchStack, id: string): Promise<void> {
  const from = Date.now();
  while (Date.now() - from < 120_000) {
    await new Promise((r) => setTimeout(r, 250));
    if (Date.now() - from < IDLE_UPKEEP_MS) continue;
    const { body } = await stack.http('GET', `/v1/conversations/${id}`);
    const memory = body?.memory as { unsummarizedMessages: number; turnsSinceFacts: number } | undefined;
    if (!body?.upkeepRunning && memory && memory.turnsSinceFacts === 0 && memory.unsummarizedMessages <= 10) return;
  }
  throw new Error('idle upkeep did not run within 2 minutes of a pause');
}

async function memoirRun(
  ctx: SuiteContext,
  stack: BenchStack,
  conv: LocomoConversation,
  sessions: { user: string; reply: string }[][],
  system: string,
): Promise<MemoirRun> {
  const id = await createConversation(stack, `cost-locomo-${Date.now().toString(36)}`, system);
  let recalledTurns = 0;
  const recallTokens: number[] = [];
  for (const [s, session] of sessions.entries()) {
    if (s > 0) {
      await idleUpkeep(stack, id);
      await ctx.model.advanceClock(PAUSE_MS);
    }
    for (const e of session) {
      const turn = await sendTurn(stack, ctx.model, id, e.user, e.reply, { mark: false });
      const manifest = await stack.http('GET', `/v1/conversations/${id}/messages/${turn.messageId}/context`);
      if ((manifest.body?.recall?.messageSeqs?.length ?? 0) + (manifest.body?.recall?.facts?.length ?? 0) > 0)
        recalledTurns++;
      const blocks = (manifest.body?.blocks ?? []) as { tier: string; tokens: number }[];
      recallTokens.push(sum(blocks.filter((b) => b.tier === 'semantic').map((b) => b.tokens)));
    }
  }
  if (!(await stack.settled(id, 300_000))) throw new Error('memory upkeep did not finish within 5 minutes');
  const turns = sessions.flat().length;
  const replies = Array.from({ length: turns }, zero);
  const perTurn = Array.from({ length: turns }, zero);
  const upkeep = zero();
  const ledger = await stack.ledger(id);
  const rows = ledger.map((r) => ({ ...r, cacheWrite5m: r.cacheWrite - r.cacheWrite1h }));
  for (const row of ledger) {
    const i = Math.min(Math.max(row.turn, 1), turns) - 1;
    const u = {
      input: row.input,
      output: row.output,
      cacheRead: row.cacheRead,
      cacheWrite: row.cacheWrite,
      costUsd: row.costUsd,
    };
    add(perTurn[i]!, u);
    add(row.purpose === 'reply' ? replies[i]! : upkeep, u);
  }
  // Recall on the same feed: each answerable question as a turn would get it (gated, top k, default budget), and
  // as a preview filling a 4k budget.
  // Only what was fed: the smoke run keeps the first sessions.
  const byId = new Map(
    conv.sessions.slice(0, sessions.length).flatMap((s) => s.turns.map((t) => [t.diaId, t] as const)),
  );
  const questions = conv.questions.filter((q) => q.category <= 4 && q.evidence.every((e) => byId.has(e)));
  const items: { mode: 'turn' | 'fill'; category: number; recall: ReturnType<typeof evidenceRecall> }[] = [];
  const loop = await closedLoop({ concurrency: 4, total: questions.length * 2, maxMs: 600_000 }, async (_l, i) => {
    const q = questions[i >> 1]!;
    const mode = i % 2 ? 'fill' : 'turn';
    const res = await stack.http('POST', `/v1/conversations/${id}/context`, {
      query: q.question,
      ...(mode === 'fill' ? { budgetTokens: FILL_BUDGET } : {}),
    });
    if (res.status !== 200) throw new Error(`context preview: ${res.status}`);
    const text = ((res.body.blocks ?? []) as { text?: string }[]).map((b) => b.text ?? '').join('\n');
    items.push({
      mode,
      category: q.category,
      recall: evidenceRecall(
        text,
        q.evidence.map((e) => byId.get(e)!),
      ),
    });
  });
  if (loop.errors.length) throw new Error(`context previews failed: ${loop.errors.slice(0, 3).join('; ')}`);
  const strict = (mode: string) => pool(items.filter((it) => it.mode === mode))['all 1-4']?.strict ?? NaN;
  return {
    replies,
    perTurn,
    upkeep,
    rows,
    recallTokens,
    recall: { turnMode: strict('turn'), fill: strict('fill'), n: questions.length, recalledTurns },
  };
}

export const realisticCostSuite: Suite = {
  id: 'cost-locomo',
  title: 'Cost over a realistic long conversation',
  async run(ctx) {
    const file = path.resolve(process.env.LOCOMO_PATH ?? DEFAULT_LOCOMO_PATH);
    if (!fs.existsSync(file)) return { skipped: `no LoCoMo data at ${file} (see the LoCoMo suite)` };
    const conv = loadLocomo(file).find((c) => c.sampleId === CONVERSATION);
    if (!conv) return { skipped: `${CONVERSATION} is not in ${path.basename(file)}` };
    const sessions = sessionExchanges(conv)
      .slice(0, SESSIONS[ctx.mode])
      .filter((s) => s.length > 0);
    const turns = sessions.flat();
    const firsts = new Set<number>();
    sessions.reduce((start, s) => (firsts.add(start), start + s.length), 0);
    const system = systemPrompt(SYSTEM_TOKENS);
    const params = {
      conversation: CONVERSATION,
      sessions: sessions.length,
      turns: turns.length,
      pauseBetweenSessions: `${PAUSE_MS / 3_600_000} h (cache clock advanced)`,
      systemPromptTokens: SYSTEM_TOKENS,
      model: REPLY_MODEL,
      pricing: 'src/model/pricing.ts DEFAULT_PRICING',
      recallFillBudget: FILL_BUDGET,
      memoirIdleUpkeep: `after ${IDLE_UPKEEP} (the 10 min default, scaled with the pause; see the text)`,
    };
    const beforeTurn = async (i: number) => {
      if (i > 0 && firsts.has(i)) await ctx.model.advanceClock(PAUSE_MS);
    };
    const perTurn: Partial<Record<Method, TurnUsage[]>> = {};
    let memoir: MemoirRun | undefined;
    const stack = await startBenchStack({
      modelUrl: ctx.model.url,
      bundlePath: ctx.bundlePath,
      env: { MEMOIR_COMPACT_WHEN_IDLE: IDLE_UPKEEP },
    });
    try {
      for (const [method] of METHODS) {
        ctx.log(`cost-locomo: ${method}, ${turns.length} turns in ${sessions.length} sessions`);
        await ctx.model.reset();
        if (method === 'memoir') {
          memoir = await memoirRun(ctx, stack, conv, sessions, system);
          perTurn.memoir = memoir.perTurn;
        } else {
          perTurn[method] = await naiveConversation({
            bench: ctx.model,
            model: REPLY_MODEL,
            system,
            turns,
            cache: method === 'cached',
            maxTokens: MAX_TOKENS,
            unmarked: true,
            beforeTurn,
          });
        }
      }
    } finally {
      await stack.stop();
    }
    const m = memoir!;
    const cost = (k: Method) => sum(perTurn[k]!.map((u) => u.costUsd));
    const hit = (k: Method) => hitAfterFirst(k === 'memoir' ? m.replies : perTurn[k]!, firsts);
    const rows = METHODS.map(([k, label]) => [
      label,
      fmt(sum(perTurn[k]!.map(promptTokens)), 0),
      fmt(sum(perTurn[k]!.map((u) => u.cacheRead)), 0),
      fmt(cost(k), 4),
      fmt(cost(k) / cost('naive'), 3),
      fmt(cost(k) / cost('cached'), 3),
      fmt(hit(k), 3),
    ]);
    const classes = Object.fromEntries(
      METHODS.map(([k]) => [k, breakdown(k === 'memoir' ? m.rows : replyRows(REPLY_MODEL, perTurn[k]!))]),
    ) as Record<Method, ReturnType<typeof breakdown>>;
    const breakdownRows = METHODS.map(([k, label]) => [label, ...breakdownCells(classes[k])]);
    // Memoir's reply calls on a session's first turn (everything expired: the whole prefix is written) vs the rest.
    const firstCost = sum(m.replies.filter((_, i) => firsts.has(i)).map((u) => u.costUsd));
    const recallInput = sum(m.recallTokens);
    const recallUsd = (recallInput * (DEFAULT_PRICING[REPLY_MODEL]?.input ?? 0)) / 1e6;
    const ratios = {
      memoirToNaive: cost('memoir') / cost('naive'),
      memoirToCached: cost('memoir') / cost('cached'),
      cachedToNaive: cost('cached') / cost('naive'),
    };
    const f = footer(ctx, params);
    const chart = lineChart({
      title: 'Cumulative cost of a LoCoMo conversation with pauses between sessions (USD)',
      subtitle: `${CONVERSATION}, ${turns.length} turns, ${sessions.length} sessions; every cache entry expires in each pause`,
      xLabel: 'turn',
      yLabel: 'USD',
      series: METHODS.map(([k, label]) => {
        let acc = 0;
        return {
          name: label,
          points: perTurn[k]!.map((u, i) => [i + 1, (acc += u.costUsd)] as [number, number]),
          markers: false,
        };
      }),
      footer: f,
    });
    const pct = (v: number) => (Number.isFinite(v) ? `${fmt(v * 100, 1)} %` : '–');
    return {
      params,
      data: {
        costUsd: Object.fromEntries(METHODS.map(([k]) => [k, cost(k)])),
        ratios,
        cacheHitAfterFirst: Object.fromEntries(METHODS.map(([k]) => [k, hit(k)])),
        upkeepCostUsd: m.upkeep.costUsd,
        costByClass: classes,
        memoirFirstTurnsReplyCostUsd: firstCost,
        memoirRecallTokens: recallInput,
        recall: m.recall,
        perTurn,
      },
      headlines: [
        {
          label: `Cost of ${turns.length} LoCoMo turns with pauses, Memoir ÷ (b) full history + caching and ÷ (a) naive`,
          value: `${fmt(ratios.memoirToCached, 3)} and ${fmt(ratios.memoirToNaive, 3)}`,
        },
        {
          label: "Cache hit on the turns after a session's first, (b) and (c) Memoir",
          value: `${fmt(hit('cached'), 3)} and ${fmt(hit('memoir'), 3)}`,
        },
      ],
      sections: [
        {
          kind: 'text',
          text:
            `${CONVERSATION} of the LoCoMo development split fed turn by turn (A's lines as the user's messages, B's ` +
            `recorded lines as the replies), ${sessions.length} sessions, each after a pause of ${PAUSE_MS / 3_600_000} h ` +
            'on the offline model’s cache clock, so every cache entry has expired when a session starts. Memoir’s idle ' +
            'upkeep (a fold and fact extraction after 10 min without a message) runs in every real pause; the ' +
            `benchmark cannot advance the workflow’s clock, so for Memoir the idle threshold is scaled to ${IDLE_UPKEEP} ` +
            'and each pause lasts until that upkeep has run. The same ' +
            `turns and replies three ways, with a ${SYSTEM_TOKENS}-token system prompt. Cache hit = cache reads ÷ prompt ` +
            'tokens of the reply calls on the turns that are not a session’s first. Memoir’s cost includes its memory ' +
            'upkeep (summaries and fact extraction, from its llm_calls ledger).',
        },
        {
          kind: 'table',
          table: {
            columns: [
              'method',
              'prompt tokens (total)',
              'of which cache reads',
              'cost (USD)',
              'cost ÷ (a)',
              'cost ÷ (b)',
              "cache hit, turns after a session's first",
            ],
            rows,
          },
        },
        {
          kind: 'text',
          text:
            '**Where the money goes**, by token class (reply calls; Memoir’s summaries and fact extraction as memory ' +
            'upkeep), priced by src/model/pricing.ts:',
        },
        { kind: 'table', table: { columns: ['method', ...BREAKDOWN_COLUMNS], rows: breakdownRows } },
        { kind: 'chart', file: 'cost-locomo-cumulative.svg', alt: 'Cumulative cost, LoCoMo conversation with pauses' },
      ],
      notes: [
        `Memoir's memory upkeep: ${fmt(m.upkeep.costUsd, 4)} USD, ${fmt(m.upkeep.costUsd / cost('memoir'), 3)} of its cost.`,
        `Memoir's reply calls on the ${firsts.size} sessions' first turns (every cache entry expired): ` +
          `${fmt(firstCost, 4)} USD, ${fmt(firstCost / cost('memoir'), 3)} of its cost.`,
        `Recalled memories sent (after the last breakpoint, full input price): ${fmt(recallInput, 0)} tokens over ` +
          `${turns.length} turns, ${fmt(recallUsd, 4)} USD, ${fmt(recallUsd / cost('memoir'), 3)} of Memoir's cost.`,
        `Turns that recalled anything (the gate open and a candidate found): ${m.recall.recalledTurns} of ${turns.length}.`,
        `Recall on the same feed (${m.recall.n} questions of categories 1–4, strict): as a turn would get it (gated, ` +
          `top k, default budget) ${pct(m.recall.turnMode)}; in a preview filling ${FILL_BUDGET} tokens ${pct(m.recall.fill)}.`,
      ],
      charts: [{ file: 'cost-locomo-cumulative.svg', svg: chart }],
    };
  },
};
