/**
 * `memoir ls`: a tenant's conversations from Temporal visibility (the search attributes each conversation workflow
 * keeps current), newest first, filtered by user, status and cost. Visibility lags a workflow by a moment.
 */
import { z } from 'zod';
import type { ConversationSummary, MemoirClient } from '../client/memoir-client';
import { ID_PATTERN } from '../../workflows/contract';
import { percent, table, usd, when } from './format';

export const lsOptions = z.object({
  tenant: z.string().regex(ID_PATTERN, 'tenant ids match [A-Za-z0-9._-]{1,128}'),
  user: z.string().regex(ID_PATTERN, 'user ids match [A-Za-z0-9._-]{1,128}').optional(),
  status: z.enum(['active', 'idle', 'ended']).optional(),
  minCost: z.coerce.number().nonnegative('--min-cost is a non-negative amount in USD').optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  json: z.boolean().default(false),
});
export type LsOptions = z.infer<typeof lsOptions>;

export async function ls(memoir: Pick<MemoirClient, 'listConversations'>, opts: LsOptions): Promise<string> {
  const found = await memoir.listConversations(opts.tenant, {
    userId: opts.user,
    status: opts.status,
    minCostUsd: opts.minCost,
    limit: opts.limit,
  });
  if (opts.json) return JSON.stringify(found, null, 2);
  if (found.length === 0) return `No conversations for tenant ${opts.tenant}${filterText(opts)}.`;
  return `${listing(found)}\n\n${found.length} conversation${found.length === 1 ? '' : 's'} of tenant ${opts.tenant}${filterText(opts)}`;
}

function listing(found: ConversationSummary[]): string {
  return table(
    ['CONVERSATION', 'USER', 'STATUS', 'TURNS', 'COST', 'CACHE HIT', 'LAST MESSAGE (UTC)'],
    found.map((c) => [
      c.conversationId,
      c.userId ?? '—',
      c.status ?? '—',
      String(c.turnCount),
      usd(c.totalCostUsd),
      percent(c.cacheHitRatio),
      when(c.lastMessageAt),
    ]),
  );
}

function filterText(opts: LsOptions): string {
  const parts = [
    opts.user ? `user ${opts.user}` : '',
    opts.status ? `status ${opts.status}` : '',
    opts.minCost !== undefined ? `cost ≥ ${usd(opts.minCost)}` : '',
  ].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
