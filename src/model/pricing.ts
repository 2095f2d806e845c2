/**
 * What a model call costs. Prices are USD per million tokens, from Anthropic's pricing page
 * (https://platform.claude.com/docs/en/about-claude/pricing), read 2026-11-26, including the 2026-10-07 cut of
 * Sonnet 5.5 cache reads to $0.10. Override or extend with a JSON file (`MEMOIR_PRICING_FILE`) of the same shape.
 */
import fs from 'node:fs';
import { z } from 'zod';

const rates = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cacheWrite5m: z.number().nonnegative(),
  cacheWrite1h: z.number().nonnegative(),
  cacheRead: z.number().nonnegative(),
});
export type Rates = z.infer<typeof rates>;

const modelPrice = rates.extend({
  /** Some models price a whole request higher when its prompt is long (Haiku 5.5 above 100k tokens). */
  longPrompt: rates.extend({ thresholdTokens: z.number().int().positive() }).optional(),
});
export type ModelPrice = z.infer<typeof modelPrice>;

export const pricingFileSchema = z.record(z.string(), modelPrice);
export type PricingTable = z.infer<typeof pricingFileSchema>;

const OPUS_4_5_TO_5: ModelPrice = { input: 5, output: 25, cacheWrite5m: 6.25, cacheWrite1h: 10, cacheRead: 0.5 };
const SONNET_4: ModelPrice = { input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 };

export const DEFAULT_PRICING: PricingTable = {
  'claude-opus-5-5': { input: 4, output: 20, cacheWrite5m: 5, cacheWrite1h: 8, cacheRead: 0.2 },
  'claude-sonnet-5-5': { input: 2, output: 10, cacheWrite5m: 2.5, cacheWrite1h: 4, cacheRead: 0.1 },
  'claude-haiku-5-5': {
    input: 0.1,
    output: 0.5,
    cacheWrite5m: 0.125,
    cacheWrite1h: 0.2,
    cacheRead: 0.01,
    longPrompt: {
      thresholdTokens: 100_000,
      input: 0.5,
      output: 2.5,
      cacheWrite5m: 0.625,
      cacheWrite1h: 1,
      cacheRead: 0.05,
    },
  },
  'claude-opus-5': OPUS_4_5_TO_5,
  'claude-sonnet-5': { input: 2, output: 10, cacheWrite5m: 2.5, cacheWrite1h: 4, cacheRead: 0.2 },
  'claude-opus-4-8': OPUS_4_5_TO_5,
  'claude-opus-4-7': OPUS_4_5_TO_5,
  'claude-opus-4-6': OPUS_4_5_TO_5,
  'claude-opus-4-5': OPUS_4_5_TO_5,
  'claude-sonnet-4-6': SONNET_4,
  'claude-sonnet-4-5': SONNET_4,
  'claude-haiku-4-5': { input: 1, output: 5, cacheWrite5m: 1.25, cacheWrite1h: 2, cacheRead: 0.1 },
};

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
}

export function loadPricing(file?: string): PricingTable {
  if (!file) return DEFAULT_PRICING;
  const parsed = pricingFileSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`pricing file ${file} is invalid: ${parsed.error.message}`);
  return { ...DEFAULT_PRICING, ...parsed.data };
}

/** Dated snapshots (`claude-haiku-4-5-20251001`) price like their alias. */
export function priceOf(table: PricingTable, model: string): ModelPrice | undefined {
  return table[model] ?? table[model.replace(/-\d{8}$/, '')];
}

/** The rates a call is billed at: the long-prompt tier when its whole prompt passes the threshold. */
function billedRates(price: ModelPrice, t: TokenCounts): Rates {
  const prompt = t.inputTokens + t.cacheReadTokens + t.cacheWrite5mTokens + t.cacheWrite1hTokens;
  return price.longPrompt && prompt > price.longPrompt.thresholdTokens ? price.longPrompt : price;
}

/** Cost of one call in USD, rounded to a nano-dollar; 0 for a model with no price (reported as unpriced). */
export function costUsd(table: PricingTable, model: string, t: TokenCounts): number {
  const price = priceOf(table, model);
  if (!price) return 0;
  const r = billedRates(price, t);
  const micro =
    t.inputTokens * r.input +
    t.outputTokens * r.output +
    t.cacheReadTokens * r.cacheRead +
    t.cacheWrite5mTokens * r.cacheWrite5m +
    t.cacheWrite1hTokens * r.cacheWrite1h;
  return Math.round(micro * 1e3) / 1e9;
}

/**
 * One call's cost split by token class, at the rates `costUsd` bills it: each class is `costUsd` of that class's
 * tokens alone, billed at the tier the whole prompt falls in. For reports that show where the money goes.
 */
export function classCostsUsd(table: PricingTable, model: string, t: TokenCounts): Record<keyof TokenCounts, number> {
  const price = priceOf(table, model);
  const none: TokenCounts = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
  };
  // A one-model table at the tier the whole call is billed at, so pricing one class alone cannot change the tier.
  const tier: PricingTable = price ? { [model]: { ...billedRates(price, t) } } : {};
  const only = (k: keyof TokenCounts) => costUsd(tier, model, { ...none, [k]: t[k] });
  return {
    inputTokens: only('inputTokens'),
    outputTokens: only('outputTokens'),
    cacheReadTokens: only('cacheReadTokens'),
    cacheWrite5mTokens: only('cacheWrite5mTokens'),
    cacheWrite1hTokens: only('cacheWrite1hTokens'),
  };
}
