/**
 * `llm_calls`: one row per model call attempt — the ledger every cost figure is computed from.
 */
import type { Usage } from '../../workflows/contract';
import type { Db } from './db';

export type LlmPurpose = 'reply' | 'summary' | 'facts';

export interface LlmCallRow {
  callId: string;
  tenantId: string;
  conversationId: string;
  messageId: string;
  turn: number;
  purpose: LlmPurpose;
  model: string;
  attempt: number;
  /** `ok`, or the failure type. */
  outcome: string;
  errorType?: string | undefined;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  costUsd: number;
  latencyMs: number;
  requestId?: string | undefined;
}

export interface CostRow {
  tenantId: string;
  model: string;
  day: string;
  purpose: string;
  calls: number;
  failedCalls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  cacheHitRatio: number;
}

const LEDGER_COLUMNS = `call_id, tenant_id, conversation_id, message_id, turn, purpose, model, attempt, outcome,
  error_type, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_usd,
  latency_ms, request_id`;

/** A ledger row's values, in LEDGER_COLUMNS order. */
function ledgerValues(r: LlmCallRow): unknown[] {
  return [
    r.callId,
    r.tenantId,
    r.conversationId,
    r.messageId,
    r.turn,
    r.purpose,
    r.model,
    r.attempt,
    r.outcome,
    r.errorType ?? null,
    r.inputTokens,
    r.outputTokens,
    r.cacheReadTokens,
    r.cacheWrite5mTokens,
    r.cacheWrite1hTokens,
    r.costUsd,
    r.latencyMs,
    r.requestId ?? null,
  ];
}

/**
 * The ledger row as a statement fragment for another writer's statement (the stored turn, src/storage/conversations.ts),
 * its parameters numbered from `first`: `accepted` is the SQL expression given, so the row and its acceptance commit
 * with the turn in one flush. Idempotent on `callId` like `record`.
 */
export function ledgerInsert(r: LlmCallRow, first: number, accepted: string): { sql: string; params: unknown[] } {
  const params = ledgerValues(r);
  const placeholders = params.map((_, i) => `$${first + i}`).join(', ');
  return {
    sql: `INSERT INTO llm_calls (${LEDGER_COLUMNS}, accepted) VALUES (${placeholders}, ${accepted})
         ON CONFLICT (call_id) DO NOTHING`,
    params,
  };
}

export class LlmCallStore {
  constructor(private readonly db: Db) {}

  /** Idempotent on `callId`: a retried write of the same attempt is a no-op. */
  async record(r: LlmCallRow): Promise<void> {
    const params = ledgerValues(r);
    await this.db.query(
      `INSERT INTO llm_calls (${LEDGER_COLUMNS}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')})
       ON CONFLICT (call_id) DO NOTHING`,
      params,
    );
  }

  /** What a tenant has spent since the start of the current UTC day, on every call (accepted or not). */
  async spentToday(tenantId: string): Promise<number> {
    const rows = await this.db.query<{ cost: number }>(
      `SELECT COALESCE(SUM(cost_usd), 0) AS cost FROM llm_calls
        WHERE tenant_id = $1 AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
      [tenantId],
    );
    return Number(rows[0]?.cost ?? 0);
  }

  /**
   * The usage of the call accepted by an earlier attempt of the same activity (`call_id` starting with
   * `callPrefix`), or null. Upkeep that committed but whose result never reached the workflow returns this.
   */
  async acceptedInActivity(tenantId: string, conversationId: string, callPrefix: string): Promise<Usage | null> {
    const rows = await this.db.query<Record<string, number>>(
      `SELECT input_tokens AS input, output_tokens AS output, cache_read_tokens AS read,
              cache_write_5m_tokens + cache_write_1h_tokens AS write, cost_usd AS cost
         FROM llm_calls WHERE tenant_id = $1 AND conversation_id = $2 AND accepted AND starts_with(call_id, $3)`,
      [tenantId, conversationId, callPrefix],
    );
    const r = rows[0];
    return r ? toUsage(r) : null;
  }

  /** Sums of the accepted calls of a conversation (replies, summaries, facts): what its workflow totals must equal. */
  async acceptedTotals(tenantId: string, conversationId: string): Promise<Usage & { calls: number }> {
    const rows = await this.db.query<Record<string, number>>(
      `SELECT COUNT(*)::int AS calls, COALESCE(SUM(input_tokens), 0)::int AS input,
              COALESCE(SUM(output_tokens), 0)::int AS output, COALESCE(SUM(cache_read_tokens), 0)::int AS read,
              COALESCE(SUM(cache_write_5m_tokens + cache_write_1h_tokens), 0)::int AS write,
              COALESCE(SUM(cost_usd), 0) AS cost
         FROM llm_calls WHERE tenant_id = $1 AND conversation_id = $2 AND accepted`,
      [tenantId, conversationId],
    );
    const r = rows[0] ?? {};
    return { calls: r.calls ?? 0, ...toUsage(r) };
  }

  async forMessage(
    tenantId: string,
    conversationId: string,
    messageId: string,
  ): Promise<(LlmCallRow & { accepted: boolean })[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT * FROM llm_calls WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3 ORDER BY created_at`,
      [tenantId, conversationId, messageId],
    );
    return rows.map((r) => ({
      callId: r.call_id as string,
      tenantId: r.tenant_id as string,
      conversationId: r.conversation_id as string,
      messageId: r.message_id as string,
      turn: r.turn as number,
      purpose: r.purpose as LlmPurpose,
      model: r.model as string,
      attempt: r.attempt as number,
      outcome: r.outcome as string,
      errorType: (r.error_type as string | null) ?? undefined,
      inputTokens: r.input_tokens as number,
      outputTokens: r.output_tokens as number,
      cacheReadTokens: r.cache_read_tokens as number,
      cacheWrite5mTokens: r.cache_write_5m_tokens as number,
      cacheWrite1hTokens: r.cache_write_1h_tokens as number,
      costUsd: r.cost_usd as number,
      latencyMs: r.latency_ms as number,
      requestId: (r.request_id as string | null) ?? undefined,
      accepted: r.accepted as boolean,
    }));
  }

  /** Cost by tenant, model, purpose and UTC day, newest day first. */
  async costReport(filter: { tenantId?: string; sinceDays?: number } = {}): Promise<CostRow[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT tenant_id, model, purpose, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              COUNT(*)::int AS calls, COUNT(*) FILTER (WHERE outcome <> 'ok')::int AS failed,
              SUM(input_tokens)::bigint AS input, SUM(output_tokens)::bigint AS output,
              SUM(cache_read_tokens)::bigint AS read,
              SUM(cache_write_5m_tokens + cache_write_1h_tokens)::bigint AS write, SUM(cost_usd) AS cost
         FROM llm_calls
        WHERE ($1::text IS NULL OR tenant_id = $1) AND created_at >= now() - make_interval(days => $2::int)
        GROUP BY 1, 2, 3, 4 ORDER BY day DESC, tenant_id, model, purpose`,
      [filter.tenantId ?? null, filter.sinceDays ?? 30],
    );
    return rows.map((r) => {
      const [input, read, write] = [Number(r.input), Number(r.read), Number(r.write)];
      return {
        tenantId: r.tenant_id as string,
        model: r.model as string,
        purpose: r.purpose as string,
        day: r.day as string,
        calls: r.calls as number,
        failedCalls: r.failed as number,
        inputTokens: input,
        outputTokens: Number(r.output),
        cacheReadTokens: read,
        cacheWriteTokens: write,
        costUsd: Number(r.cost),
        cacheHitRatio: input + read + write === 0 ? 0 : read / (input + read + write),
      };
    });
  }
}

function toUsage(r: Record<string, number | undefined>): Usage {
  return {
    inputTokens: r.input ?? 0,
    outputTokens: r.output ?? 0,
    cacheReadTokens: r.read ?? 0,
    cacheWriteTokens: r.write ?? 0,
    costUsd: Number(r.cost ?? 0),
  };
}
