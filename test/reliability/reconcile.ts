/**
 * "Nothing lost, nothing duplicated", checked by reconciliation against PostgreSQL rather than by counting the
 * replies clients saw:
 *
 * - every accepted messageId has exactly one user row and exactly one assistant row (`in_reply_to` = that id,
 *   real or degraded), the reply right after its message (`seq + 1`);
 * - per conversation, the user rows are in the order the client sent them, and sequence numbers have no gaps;
 * - no row exists for a message no client sent, and the reply a client was given is the one stored;
 * - the workflow's totals (`getState`) equal the sums of the accepted calls in `llm_calls`, and so does the
 *   conversation row.
 *
 * Memory upkeep (indexing, compaction, fact extraction) adds accepted calls, so it is waited out first.
 */
import type { ConversationState, Usage } from '../../workflows/contract';
import type { Services } from '../../src/runtime/services';
import type { TurnRecord } from './driver';

export const NOTHING_LOST_DEFINITION = [
  'A turn is **accepted** when the system acknowledged its messageId: a reply, or `504 reply_pending` (the turn goes on).',
  'Requests refused with 429, 503 or a network error are not accepted; the client re-sends the same messageId.',
  '**Nothing lost**: every accepted messageId has exactly one user row and exactly one assistant row in PostgreSQL ' +
    '(`in_reply_to` = that messageId; a real or an explicitly degraded reply), the reply at `seq + 1`.',
  '**Nothing duplicated**: no second user row or reply for a messageId, no row for a message no client sent, and ' +
    'the reply each client received is the stored one (same reply messageId).',
  '**In order**: per conversation, user rows follow the order the client sent them and sequence numbers have no gaps.',
  '**Totals**: after memory upkeep settles, the workflow state totals (tokens and cost) equal the sums of the ' +
    'accepted rows of `llm_calls` for the conversation, and so do the totals on its `conversations` row.',
];

export interface Reconciliation {
  conversations: number;
  attempted: number;
  accepted: number;
  answered: number;
  degraded: number;
  lost: number;
  duplicated: number;
  orderViolations: number;
  totalsMismatches: number;
  /** Conversations whose upkeep had not settled by the deadline (their totals were still compared). */
  unsettled: number;
  /** Sent but never acknowledged, yet stored (allowed: at-least-once delivery of an unacknowledged send). */
  storedUnacknowledged: number;
  /** The first problems found, in words. */
  problems: string[];
}

interface Row {
  message_id: string;
  seq: number;
  role: 'user' | 'assistant';
  in_reply_to: string | null;
  degraded: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `getState` until no upkeep runs and nothing is queued; the last state seen, or undefined. */
async function settledState(
  s: Services,
  tenantId: string,
  conversationId: string,
  deadline: number,
): Promise<{ state: ConversationState | undefined; settled: boolean }> {
  let state: ConversationState | undefined;
  while (Date.now() < deadline) {
    try {
      state = await s.memoir.getState(tenantId, conversationId);
      if (!state.upkeepRunning && state.pendingMessages === 0) return { state, settled: true };
    } catch {
      // no worker answering queries yet (a restart): try again
    }
    await sleep(250);
  }
  return { state, settled: false };
}

const sameUsage = (a: Usage, b: Usage) =>
  a.inputTokens === b.inputTokens &&
  a.outputTokens === b.outputTokens &&
  a.cacheReadTokens === b.cacheReadTokens &&
  a.cacheWriteTokens === b.cacheWriteTokens &&
  Math.abs(a.costUsd - b.costUsd) < 1e-6;

const usageText = (u: Usage) =>
  `in ${u.inputTokens} out ${u.outputTokens} read ${u.cacheReadTokens} write ${u.cacheWriteTokens} $${u.costUsd.toFixed(6)}`;

/** The summary and fact calls of a conversation, for a totals mismatch: which attempt was kept, which ran again. */
async function upkeepCalls(s: Services, tenantId: string, conversationId: string): Promise<string> {
  const rows = await s.db.query<{
    call_id: string;
    purpose: string;
    message_id: string;
    outcome: string;
    accepted: boolean;
    input_tokens: number;
  }>(
    `SELECT call_id, purpose, message_id, outcome, accepted, input_tokens FROM llm_calls
      WHERE tenant_id = $1 AND conversation_id = $2 AND purpose <> 'reply' ORDER BY created_at`,
    [tenantId, conversationId],
  );
  // call_id is runId/activityId/attempt: the activity id and attempt say when an activity ran again.
  return rows
    .map(
      (c) =>
        `${c.message_id} ${c.call_id.split('/').slice(1).join('#')} ${c.outcome}${c.accepted ? ' accepted' : ''} in ${c.input_tokens}`,
    )
    .join('; ');
}

export async function reconcile(
  s: Services,
  tenantId: string,
  turns: TurnRecord[],
  opts: { settleTimeoutMs?: number } = {},
): Promise<Reconciliation> {
  const byConversation = new Map<string, TurnRecord[]>();
  for (const t of turns) byConversation.set(t.conversationId, [...(byConversation.get(t.conversationId) ?? []), t]);
  const r: Reconciliation = {
    conversations: byConversation.size,
    attempted: turns.length,
    accepted: turns.filter((t) => t.accepted).length,
    answered: 0,
    degraded: 0,
    lost: 0,
    duplicated: 0,
    orderViolations: 0,
    totalsMismatches: 0,
    unsettled: 0,
    storedUnacknowledged: 0,
    problems: [],
  };
  const problem = (text: string) => r.problems.length < 30 && r.problems.push(text);
  const deadline = Date.now() + (opts.settleTimeoutMs ?? 180_000);

  for (const [conversationId, sent] of byConversation) {
    sent.sort((a, b) => a.index - b.index);
    const where = `${conversationId}`;
    const rows = await s.db.query<Row>(
      `SELECT message_id, seq, role, in_reply_to, degraded FROM messages
        WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY seq`,
      [tenantId, conversationId],
    );
    const users = new Map<string, Row[]>();
    const replies = new Map<string, Row[]>();
    for (const row of rows) {
      const key = row.role === 'user' ? row.message_id : (row.in_reply_to ?? '');
      const into = row.role === 'user' ? users : replies;
      into.set(key, [...(into.get(key) ?? []), row]);
    }
    const sentIds = new Set(sent.map((t) => t.messageId));
    for (const [id, list] of users) {
      if (!sentIds.has(id)) {
        r.duplicated += list.length;
        problem(`${where}: user row for ${id}, which no client sent`);
      }
    }
    for (const [id, list] of replies) {
      if (!users.has(id)) {
        r.duplicated += list.length;
        problem(`${where}: reply row in reply to ${id || '(nothing)'}, which has no user row`);
      }
    }
    rows.forEach((row, i) => {
      if (row.seq !== i + 1) {
        if (r.orderViolations === 0 || i === 0) problem(`${where}: seq ${row.seq} at position ${i + 1} (a gap)`);
        r.orderViolations++;
      }
    });

    let lastUserSeq = 0;
    for (const t of sent) {
      const u = users.get(t.messageId) ?? [];
      const a = replies.get(t.messageId) ?? [];
      if (u.length > 1 || a.length > 1) {
        r.duplicated += Math.max(0, u.length - 1) + Math.max(0, a.length - 1);
        problem(`${where}: ${t.messageId} has ${u.length} user rows and ${a.length} replies`);
      }
      if (!t.accepted) {
        if (u.length > 0) r.storedUnacknowledged++;
        continue;
      }
      if (u.length === 0 || a.length === 0) {
        r.lost++;
        problem(`${where}: accepted ${t.messageId} has ${u.length} user rows and ${a.length} replies`);
        continue;
      }
      const [user, reply] = [u[0]!, a[0]!];
      if (u.length === 1 && a.length === 1) {
        r.answered++;
        if (reply.degraded) r.degraded++;
      }
      if (reply.seq !== user.seq + 1) {
        r.orderViolations++;
        problem(`${where}: reply to ${t.messageId} at seq ${reply.seq}, its message at ${user.seq}`);
      }
      if (user.seq <= lastUserSeq) {
        r.orderViolations++;
        problem(`${where}: ${t.messageId} (sent #${t.index}) stored at seq ${user.seq}, before an earlier message`);
      }
      lastUserSeq = user.seq;
      if (t.reply && t.reply.messageId !== reply.message_id) {
        r.duplicated++;
        problem(
          `${where}: the client got reply ${t.reply.messageId} to ${t.messageId}, PostgreSQL has ${reply.message_id}`,
        );
      }
    }

    const { state, settled } = await settledState(s, tenantId, conversationId, deadline);
    if (!settled) {
      r.unsettled++;
      problem(`${where}: memory upkeep had not settled by the deadline`);
    }
    const ledger = await s.llmCalls.acceptedTotals(tenantId, conversationId);
    const row = await s.conversations.get(tenantId, conversationId);
    if (!state || !sameUsage(state.totals, ledger)) {
      r.totalsMismatches++;
      problem(
        `${where}: workflow totals ${state ? usageText(state.totals) : '(no state)'} ≠ llm_calls ${usageText(ledger)}; ` +
          `memory upkeep calls: ${await upkeepCalls(s, tenantId, conversationId)}`,
      );
    }
    if (!row || !sameUsage(row.totals, ledger)) {
      r.totalsMismatches++;
      problem(`${where}: conversations row ${row ? usageText(row.totals) : '(none)'} ≠ llm_calls ${usageText(ledger)}`);
    }
  }
  return r;
}
