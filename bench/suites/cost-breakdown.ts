/**
 * Where a method's money goes, by token class: uncached input, cache writes, cache reads and output of its reply
 * calls, and (Memoir) the memory upkeep calls (summaries, fact extraction) as one more class. Each class is priced
 * with the row's model from `src/model/pricing.ts`, so the classes add up to the method's cost.
 */
import { DEFAULT_PRICING, priceOf, type Rates } from '../../src/model/pricing';
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

/** The rates a row is billed at (the long-prompt tier when its prompt passes the threshold, as `costUsd` does). */
function ratesOf(row: UsageRow): Rates {
  const price = priceOf(DEFAULT_PRICING, row.model);
  if (!price) throw new Error(`no price for ${row.model}`);
  const prompt = row.input + row.cacheRead + row.cacheWrite5m + row.cacheWrite1h;
  return price.longPrompt && prompt > price.longPrompt.thresholdTokens ? price.longPrompt : price;
}

export function breakdown(rows: UsageRow[]): Breakdown {
  const out = Object.fromEntries(COST_CLASSES.map((c) => [c, { tokens: 0, usd: 0 }])) as Breakdown;
  const addTo = (c: CostClass, tokens: number, perMillion: number) => {
    out[c].tokens += tokens;
    out[c].usd += (tokens * perMillion) / 1e6;
  };
  for (const row of rows) {
    const r = ratesOf(row);
    if (row.purpose !== 'reply') {
      const upkeep =
        row.input * r.input +
        row.output * r.output +
        row.cacheRead * r.cacheRead +
        row.cacheWrite5m * r.cacheWrite5m +
        row.cacheWrite1h * r.cacheWrite1h;
      out['memory upkeep'].tokens += row.input + row.output + row.cacheRead + row.cacheWrite5m + row.cacheWrite1h;
      out['memory upkeep'].usd += upkeep / 1e6;
      continue;
    }
    addTo('uncached input', row.input, r.input);
    addTo('cache writes', row.cacheWrite5m, r.cacheWrite5m);
    addTo('cache writes', row.cacheWrite1h, r.cacheWrite1h);
    addTo('cache reads', row.cacheRead, r.cacheRead);
    addTo('output', row.output, r.output);
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
