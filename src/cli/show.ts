/**
 * `memoir show`: one conversation — its live state from the workflow (the `getState` query) and its messages from
 * PostgreSQL — printed for a person, or as JSON.
 */
import type { Connection } from '@temporalio/client';
import { z } from 'zod';
import { MemoirError } from '../client/errors';
import type { MemoirClient } from '../client/memoir-client';
import type { ToolCallView } from '../client/tool-calls';
import type { ConversationStore, StoredMessage } from '../storage/conversations';
import { cacheHitRatio, conversationWorkflowId, ID_PATTERN, type ConversationState } from '../../workflows/contract';
import { count, indent, percent, tokens, usd, when } from './format';

export const showOptions = z.object({
  tenant: z.string().regex(ID_PATTERN, 'tenant ids match [A-Za-z0-9._-]{1,128}'),
  limit: z.coerce.number().int().min(1).max(10_000).default(50),
  json: z.boolean().default(false),
});
export type ShowOptions = z.infer<typeof showOptions>;

export interface ShowDeps {
  memoir: Pick<MemoirClient, 'getState' | 'messages' | 'listToolCalls'>;
  conversations: Pick<ConversationStore, 'get'>;
  connection: Pick<Connection, 'withDeadline'>;
  /** Base URL of the Temporal UI, for a link to the workflow. */
  uiUrl?: string | undefined;
  namespace: string;
}

/** A query needs a worker to answer it; without one it would wait indefinitely. */
const QUERY_WAIT_MS = 5_000;

/** What `show` prints: the live state when the workflow answers, else what PostgreSQL keeps (no status then). */
type Shown = Pick<
  ConversationState,
  | 'userId'
  | 'turnCount'
  | 'pendingMessages'
  | 'degradedReplies'
  | 'fallbacks'
  | 'totals'
  | 'lastError'
  | 'lastMessageAt'
> & { status: ConversationState['status'] | 'unknown' };

export async function show(deps: ShowDeps, conversationId: string, opts: ShowOptions): Promise<string> {
  const { state, live } = await stateOf(deps, opts.tenant, conversationId);
  const messages = await deps.memoir.messages(opts.tenant, conversationId, { limit: opts.limit });
  const toolCalls = await toolCallsOf(deps, opts.tenant, conversationId);
  const workflowId = conversationWorkflowId(opts.tenant, conversationId);
  if (opts.json) return JSON.stringify({ workflowId, live, state, messages, toolCalls }, null, 2);
  const callsOf = (m: StoredMessage) => toolCalls.filter((c) => c.messageId === m.messageId);
  const t = state.totals;
  const lines = [
    `Conversation ${conversationId} · tenant ${opts.tenant} · user ${state.userId || '—'}`,
    `  workflow  ${workflowId}`,
    ...(deps.uiUrl
      ? [
          `  UI        ${deps.uiUrl}/namespaces/${encodeURIComponent(deps.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
        ]
      : []),
    `  status    ${live ? state.status : 'unknown (the workflow did not answer in time: is a worker running?)'}` +
      ` · ${count(state.turnCount, 'turn')} · ${state.pendingMessages} pending · ${state.degradedReplies} degraded` +
      ` · ${count(state.fallbacks, 'fallback')}`,
    `  tokens    ${tokens(t.inputTokens)} in / ${tokens(t.outputTokens)} out · cache read ${tokens(t.cacheReadTokens)}` +
      ` / write ${tokens(t.cacheWriteTokens)} · hit ${percent(t.cacheHitRatio)} · cost ${usd(t.costUsd)}`,
    `  last      ${when(state.lastMessageAt)}${state.lastError ? ` · last error ${state.lastError.type}: ${state.lastError.message}` : ''}`,
    '',
    messages.length === 0
      ? '(no messages yet)'
      : messages.map((m) => formatMessage(m) + formatToolCalls(callsOf(m))).join('\n\n'),
  ];
  return lines.join('\n');
}

function formatMessage(m: StoredMessage): string {
  const about =
    m.role === 'assistant'
      ? ` · ${m.model ?? '?'}${m.degraded ? ' · DEGRADED' : ''}${m.inReplyTo ? ` · reply to ${m.inReplyTo}` : ''}`
      : '';
  return `#${m.seq} ${m.role.padEnd(9)} ${m.messageId} · ${when(m.createdAt)}${about}\n${indent(m.content)}`;
}

/** A turn's tool calls, under its user message: tool, outcome, duration, approval. */
function formatToolCalls(calls: ToolCallView[]): string {
  return calls
    .map((c) => {
      const outcome = c.outcome ?? 'pending';
      const took = c.durationMs === null ? '' : ` · ${c.durationMs} ms`;
      const a = c.approval;
      const approval = a
        ? ` · ${a.decision.replace('_', ' ')}${a.by ? ` by ${a.by}` : ''}${a.reason ? ` (${a.reason})` : ''}`
        : '';
      return `\n    tool ${c.tool} · ${c.toolUseId} · ${outcome}${took}${approval} · input ${c.inputHash.slice(0, 12)}`;
    })
    .join('');
}

/**
 * Tool calls when this client can read them. A client without the tool_calls store shows none; rows it cannot open
 * (sealed by encryption at rest, which this verb does not unseal) are left out rather than failing the whole page.
 */
async function toolCallsOf(deps: ShowDeps, tenantId: string, conversationId: string): Promise<ToolCallView[]> {
  try {
    return await deps.memoir.listToolCalls(tenantId, conversationId, { limit: 500 });
  } catch (err) {
    if (err instanceof MemoirError && err.status !== 501) throw err;
    return [];
  }
}

/**
 * The workflow's own view when it answers in time; otherwise the totals PostgreSQL keeps (no worker running, say),
 * with the status left unknown.
 */
async function stateOf(
  deps: ShowDeps,
  tenantId: string,
  conversationId: string,
): Promise<{ state: Shown; live: boolean }> {
  try {
    const state = await deps.connection.withDeadline(Date.now() + QUERY_WAIT_MS, () =>
      deps.memoir.getState(tenantId, conversationId),
    );
    return { state, live: true };
  } catch (err) {
    // No answer in time (no worker: the client reports the deadline as `unavailable`) falls back to the database;
    // anything else it says (not found…) stands.
    if (err instanceof MemoirError && err.code !== 'unavailable') throw err;
  }
  const row = await deps.conversations.get(tenantId, conversationId);
  if (!row) throw new MemoirError('not_found', 404, `conversation ${conversationId} of tenant ${tenantId} not found`);
  return {
    live: false,
    state: {
      userId: row.userId,
      status: 'unknown',
      turnCount: row.turnCount,
      pendingMessages: 0,
      degradedReplies: row.degradedReplies,
      fallbacks: 0,
      totals: { ...row.totals, cacheHitRatio: cacheHitRatio(row.totals) },
      lastError: null,
      lastMessageAt: row.lastMessageAt?.toISOString() ?? null,
    },
  };
}
