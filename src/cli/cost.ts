/**
 * `memoir cost`: what the model calls cost, by day, tenant, model and purpose, with the prompt-cache hit ratio —
 * summed from `llm_calls`, the ledger of every attempt (failed attempts included: they are billed too when the API
 * reports usage, and they show in the FAILED column either way).
 */
import { z } from 'zod';
import type { CostRow, LlmCallStore } from '../storage/llm-calls';
import { ID_PATTERN } from '../../workflows/contract';
import { count, percent, table, tokens, usd } from './format';

export const costOptions = z.object({
  tenant: z.string().regex(ID_PATTERN, 'tenant ids match [A-Za-z0-9._-]{1,128}').optional(),
  days: z.coerce.number().int().min(1).max(3_650).default(30),
  json: z.boolean().default(false),
});
export type CostOptions = z.infer<typeof costOptions>;

/** The sums over every row of a report. */
export type CostTotal = Omit<CostRow, 'tenantId' | 'model' | 'day' | 'purpose'>;

export async function cost(llmCalls: Pick<LlmCallStore, 'costReport'>, opts: CostOptions): Promise<string> {
  const rows = await llmCalls.costReport({ ...(opts.tenant ? { tenantId: opts.tenant } : {}), sinceDays: opts.days });
  const total = totalOf(rows);
  if (opts.json) return JSON.stringify({ days: opts.days, tenant: opts.tenant ?? null, rows, total }, null, 2);
  const scope = `${opts.tenant ? `tenant ${opts.tenant}` : 'all tenants'}, last ${opts.days} day${opts.days === 1 ? '' : 's'} (UTC)`;
  if (rows.length === 0) return `No model calls recorded for ${scope}.`;
  return [
    table(
      [
        'DAY',
        'TENANT',
        'MODEL',
        'PURPOSE',
        'CALLS',
        'FAILED',
        'IN',
        'OUT',
        'CACHE READ',
        'CACHE WRITE',
        'CACHE HIT',
        'COST',
      ],
      rows.map((r) => [
        r.day,
        r.tenantId,
        r.model,
        r.purpose,
        String(r.calls),
        String(r.failedCalls),
        tokens(r.inputTokens),
        tokens(r.outputTokens),
        tokens(r.cacheReadTokens),
        tokens(r.cacheWriteTokens),
        percent(r.cacheHitRatio),
        usd(r.costUsd),
      ]),
    ),
    '',
    `total (${scope}): ${count(total.calls, 'call')} (${total.failedCalls} failed) · ${tokens(total.inputTokens)} in / ` +
      `${tokens(total.outputTokens)} out · cache read ${tokens(total.cacheReadTokens)} / write ` +
      `${tokens(total.cacheWriteTokens)} · cache hit ${percent(total.cacheHitRatio)} · ${usd(total.costUsd)}`,
  ].join('\n');
}

/** Sums of every row; the hit ratio is recomputed from the sums, not averaged. */
export function totalOf(rows: CostRow[]): CostTotal {
  const t = rows.reduce(
    (a, r) => ({
      calls: a.calls + r.calls,
      failedCalls: a.failedCalls + r.failedCalls,
      inputTokens: a.inputTokens + r.inputTokens,
      outputTokens: a.outputTokens + r.outputTokens,
      cacheReadTokens: a.cacheReadTokens + r.cacheReadTokens,
      cacheWriteTokens: a.cacheWriteTokens + r.cacheWriteTokens,
      costUsd: a.costUsd + r.costUsd,
    }),
    { calls: 0, failedCalls: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 },
  );
  const prompt = t.inputTokens + t.cacheReadTokens + t.cacheWriteTokens;
  return {
    ...t,
    costUsd: Math.round(t.costUsd * 1e9) / 1e9,
    cacheHitRatio: prompt === 0 ? 0 : t.cacheReadTokens / prompt,
  };
}
