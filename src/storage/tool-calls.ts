/**
 * Tool calls and the model steps that asked for them, in PostgreSQL. Inputs, results and step content are sealed
 * like message rows when encryption at rest is on; the workflow only ever holds tool_use ids.
 */
import { createHash } from 'node:crypto';
import type { ToolCallOutcome } from '../../workflows/contract';
import type { MessageSealer } from './conversations';
import type { Db } from './db';
import type { ApprovalRecord, ToolCallReader } from '../client/tool-calls';

/** Most characters of a result kept in the row; longer results are cut (the model gets less still, see below). */
export const STORED_RESULT_MAX_CHARS = 64_000;
/** Most characters of a result sent back to the model as tool_result: keeps each step's prompt bounded. */
export const MODEL_RESULT_MAX_CHARS = 16_000;

export interface ToolTurnRef {
  tenantId: string;
  conversationId: string;
  messageId: string;
}

/** An assistant content block of a tool step, as the Messages API returns it. */
export type StepBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

export interface StoredStep {
  step: number;
  model: string;
  content: StepBlock[];
}

export type { ApprovalRecord };

export interface ToolCallRow {
  toolUseId: string;
  messageId: string;
  step: number;
  tool: string;
  source: string;
  input: unknown;
  inputHash: string;
  outcome: ToolCallOutcome | null;
  result: string | null;
  isError: boolean;
  attempts: number;
  durationMs: number | null;
  approval: ApprovalRecord | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

interface ToolCallDbRow {
  tool_use_id: string;
  message_id: string;
  step: number;
  tool: string;
  source: string;
  input: string;
  input_hash: string;
  outcome: ToolCallOutcome | null;
  result: string | null;
  is_error: boolean;
  attempts: number;
  duration_ms: number | null;
  approval: ApprovalRecord | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

export interface NewToolCall {
  toolUseId: string;
  tool: string;
  source: string;
  input: unknown;
}

export interface ToolCallResult {
  outcome: ToolCallOutcome;
  result: string;
  isError: boolean;
  durationMs?: number;
  approval?: ApprovalRecord;
}

export const hashInput = (input: unknown) => createHash('sha256').update(JSON.stringify(input)).digest('hex');

/** A result cut to `max` characters, saying so, so the model knows it saw only part. */
export function boundResult(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[… ${text.length - max} more characters not shown]`;
}

export class ToolCallStore {
  constructor(
    private readonly db: Db,
    private readonly sealer?: MessageSealer,
  ) {}

  private async owner(tenantId: string, conversationId: string): Promise<string> {
    const rows = await this.db.query<{ user_id: string }>(
      'SELECT user_id FROM conversations WHERE tenant_id = $1 AND conversation_id = $2',
      [tenantId, conversationId],
    );
    if (!rows[0]) throw new Error(`conversation ${tenantId}/${conversationId} does not exist`);
    return rows[0].user_id;
  }

  private async sealAll(tenantId: string, conversationId: string, texts: string[]): Promise<string[]> {
    const sealer = this.sealer;
    if (!sealer) return texts;
    const owner = await this.owner(tenantId, conversationId);
    return Promise.all(texts.map((t) => sealer.seal(tenantId, owner, t)));
  }

  private open(tenantId: string, stored: string): Promise<string> {
    return this.sealer ? this.sealer.open(tenantId, stored) : Promise.resolve(stored);
  }

  /**
   * Stores a step's content and a row per tool_use block, in one transaction. A retried attempt of the same step
   * replaces the step's content (the model answered again); call rows already written are kept.
   */
  async saveStep(ref: ToolTurnRef, step: StoredStep, calls: NewToolCall[]): Promise<void> {
    const { tenantId, conversationId, messageId } = ref;
    const [content, ...inputs] = await this.sealAll(tenantId, conversationId, [
      JSON.stringify(step.content),
      ...calls.map((c) => JSON.stringify(c.input ?? {})),
    ]);
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO tool_steps (tenant_id, conversation_id, message_id, step, model, content)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, conversation_id, message_id, step) DO UPDATE SET model = $5, content = $6`,
        [tenantId, conversationId, messageId, step.step, step.model, content],
      );
      for (const [i, c] of calls.entries()) {
        await tx.query(
          `INSERT INTO tool_calls (tenant_id, conversation_id, message_id, tool_use_id, step, tool, source, input, input_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
          [
            tenantId,
            conversationId,
            messageId,
            c.toolUseId,
            step.step,
            c.tool,
            c.source,
            inputs[i],
            hashInput(c.input),
          ],
        );
      }
    });
  }

  /** The turn's stored steps before `beforeStep`, oldest first. */
  async steps(ref: ToolTurnRef, beforeStep: number): Promise<StoredStep[]> {
    const rows = await this.db.query<{ step: number; model: string; content: string }>(
      `SELECT step, model, content FROM tool_steps WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3
          AND step < $4 ORDER BY step`,
      [ref.tenantId, ref.conversationId, ref.messageId, beforeStep],
    );
    return Promise.all(
      rows.map(async (r) => ({
        step: r.step,
        model: r.model,
        content: JSON.parse(await this.open(ref.tenantId, r.content)) as StepBlock[],
      })),
    );
  }

  /** Every call of a turn (or of the conversation when `messageId` is absent), oldest first, opened. */
  async list(tenantId: string, conversationId: string, messageId?: string): Promise<ToolCallRow[]> {
    const rows = await this.db.query<ToolCallDbRow>(
      `SELECT * FROM tool_calls WHERE tenant_id = $1 AND conversation_id = $2 AND ($3::text IS NULL OR message_id = $3)
        ORDER BY created_at, step, tool_use_id`,
      [tenantId, conversationId, messageId ?? null],
    );
    return Promise.all(rows.map((r) => this.toRow(tenantId, r)));
  }

  async get(tenantId: string, conversationId: string, toolUseId: string): Promise<ToolCallRow | null> {
    const rows = await this.db.query<ToolCallDbRow>(
      'SELECT * FROM tool_calls WHERE tenant_id = $1 AND conversation_id = $2 AND tool_use_id = $3',
      [tenantId, conversationId, toolUseId],
    );
    return rows[0] ? this.toRow(tenantId, rows[0]) : null;
  }

  /**
   * Counts an attempt and sets the started mark. Returns the row as it was before, so the caller can see whether
   * an earlier attempt started (or finished) the call.
   */
  async markStarted(tenantId: string, conversationId: string, toolUseId: string): Promise<ToolCallRow | null> {
    const before = await this.get(tenantId, conversationId, toolUseId);
    if (!before || before.outcome !== null) return before;
    await this.db.query(
      `UPDATE tool_calls SET attempts = attempts + 1, started_at = coalesce(started_at, now())
        WHERE tenant_id = $1 AND conversation_id = $2 AND tool_use_id = $3`,
      [tenantId, conversationId, toolUseId],
    );
    return before;
  }

  /** Records how the call ended; the first outcome recorded wins (a late duplicate attempt changes nothing). */
  async complete(tenantId: string, conversationId: string, toolUseId: string, r: ToolCallResult): Promise<boolean> {
    const [result] = await this.sealAll(tenantId, conversationId, [boundResult(r.result, STORED_RESULT_MAX_CHARS)]);
    const rows = await this.db.query(
      `UPDATE tool_calls SET outcome = $4, result = $5, is_error = $6, duration_ms = $7,
              approval = coalesce($8::jsonb, approval), completed_at = now()
        WHERE tenant_id = $1 AND conversation_id = $2 AND tool_use_id = $3 AND outcome IS NULL RETURNING 1`,
      [
        tenantId,
        conversationId,
        toolUseId,
        r.outcome,
        result,
        r.isError,
        r.durationMs ?? null,
        r.approval ? JSON.stringify(r.approval) : null,
      ],
    );
    return rows.length === 1;
  }

  /** Records a person's approval on a call that then runs (its outcome comes later). */
  async approve(tenantId: string, conversationId: string, toolUseId: string, approval: ApprovalRecord): Promise<void> {
    await this.db.query(
      `UPDATE tool_calls SET approval = $4::jsonb WHERE tenant_id = $1 AND conversation_id = $2 AND tool_use_id = $3`,
      [tenantId, conversationId, toolUseId, JSON.stringify(approval)],
    );
  }

  private async toRow(tenantId: string, r: ToolCallDbRow): Promise<ToolCallRow> {
    return {
      toolUseId: r.tool_use_id,
      messageId: r.message_id,
      step: r.step,
      tool: r.tool,
      source: r.source,
      input: JSON.parse(await this.open(tenantId, r.input)) as unknown,
      inputHash: r.input_hash,
      outcome: r.outcome,
      result: r.result === null ? null : await this.open(tenantId, r.result),
      isError: r.is_error,
      attempts: r.attempts,
      durationMs: r.duration_ms,
      approval: r.approval,
      createdAt: r.created_at,
      startedAt: r.started_at,
      completedAt: r.completed_at,
    };
  }
}

/** The reader over the `tool_calls` table. */
export function toolCallReader(store: Pick<ToolCallStore, 'list'>): ToolCallReader {
  return {
    async list(tenantId, conversationId, options) {
      const rows = await store.list(tenantId, conversationId, options.messageId);
      return rows.slice(0, options.limit).map((r) => ({
        toolUseId: r.toolUseId,
        messageId: r.messageId,
        tool: r.tool,
        inputHash: r.inputHash,
        outcome: r.outcome,
        durationMs: r.durationMs,
        approval: r.approval,
        createdAt: r.createdAt.toISOString(),
        startedAt: r.startedAt?.toISOString() ?? null,
        ...(options.includeIo
          ? { input: r.input, result: r.result === null ? null : { content: r.result, isError: r.isError } }
          : {}),
      }));
    },
  };
}
