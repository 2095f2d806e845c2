/**
 * Where a method's money goes, by token class: uncached input, cache writes, cache reads and output of its reply
 * calls, and (Memoir) the memory upkeep calls (summaries, fact extraction) as one more class. Each class is priced
 * with the row's model from `src/model/pricing.ts`, so the classes add up to the method's cost.
 */
import { classCostsUsd, costUsd, DEFAULT_PRICING, priceOf, type TokenCounts } from '../../src/model/pricing';
import type { TurnUsage } from '../lib/naive-agent';
import { fmt, sum } from '../lib/stats';

/** One model call (or a sum of calls of one model and purpose). */
export interface UsageRow {
  model: string;
  /** `reply` for the answer to a turn; anything else is memory upkeep. */
  purpose: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
}

export const COST_CLASSES = ['uncached input', 'cache writes', 'cache reads', 'output', 'memory upkeep'] as const;
export type CostClass = (typeof COST_CLASSES)[number];
export type Breakdown = Record<CostClass, { tokens: number; usd: number }>;

/** A row's tokens as the ledger prices them. */
function tokenCounts(row: UsageRow): TokenCounts {
  return {
    inputTokens: row.input,
    outputTokens: row.output,
    cacheReadTokens: row.cacheRead,
    cacheWrite5mTokens: row.cacheWrite5m,
    cacheWrite1hTokens: row.cacheWrite1h,
  };
}

/**
 * Adds rows up by class, each priced by `src/model/pricing.ts` as the ledger prices a call (`costUsd`: the
 * long-prompt tier, the rounding to a nano-dollar), so the classes add up to what the ledger says the calls cost.
 */
export function breakdown(rows: UsageRow[]): Breakdown {
  const out = Object.fromEntries(COST_CLASSES.map((c) => [c, { tokens: 0, usd: 0 }])) as Breakdown;
  const addTo = (c: CostClass, tokens: number, usd: number) => {
    out[c].tokens += tokens;
    out[c].usd += usd;
  };
  for (const row of rows) {
    if (!priceOf(DEFAULT_PRICING, row.model)) throw new Error(`no price for ${row.model}`);
    const t = tokenCounts(row);
    if (row.purpose !== 'reply') {
      const tokens = row.input + row.output + row.cacheRead + row.cacheWrite5m + row.cacheWrite1h;
      addTo('memory upkeep', tokens, costUsd(DEFAULT_PRICING, row.model, t));
      continue;
    }
    const usd = classCostsUsd(DEFAULT_PRICING, row.model, t);
    addTo('uncached input', row.input, usd.inputTokens);
    addTo('cache writes', row.cacheWrite5m + row.cacheWrite1h, usd.cacheWrite5mTokens + usd.cacheWrite1hTokens);
    addTo('cache reads', row.cacheRead, usd.cacheReadTokens);
    addTo('output', row.output, usd.outputTokens);
  }
  return out;
}

/** A naive agent's turns as rows: every call a reply, every cache write at the 5-minute TTL. */
export function replyRows(model: string, perTurn: TurnUsage[]): UsageRow[] {
  return perTurn.map((u) => ({
    model,
    purpose: 'reply',
    input: u.input,
    output: u.output,
    cacheRead: u.cacheRead,
    cacheWrite5m: u.cacheWrite,
    cacheWrite1h: 0,
  }));
}

/** Table cells for one method: each class's cost and its share of the total, then the total. */
export function breakdownCells(b: Breakdown): string[] {
  const total = sum(COST_CLASSES.map((c) => b[c].usd));
  const cell = (c: CostClass) =>
    b[c].usd === 0 && b[c].tokens === 0 ? '–' : `${fmt(b[c].usd, 4)} (${fmt((b[c].usd / total) * 100, 0)} %)`;
  return [...COST_CLASSES.map(cell), fmt(total, 4)];
}

export const BREAKDOWN_COLUMNS = COST_CLASSES.map((c) => `${c} (USD, share)`).concat('total (USD)');
