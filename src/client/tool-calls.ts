/**
 * What clients see of a conversation's tool calls: one row per call from the `tool_calls` table (tool, input hash,
 * outcome, duration, approval), with inputs and results only when asked for. `MemoirClient` reads them through the
 * narrow `ToolCallReader`, so the API and the CLI do not depend on how the rows are stored.
 */
import type { ToolCallOutcome } from '../../workflows/contract';

/** The decision on a call that needed one. */
export interface ApprovalRecord {
  decision: 'approved' | 'denied' | 'timeout';
  by: string | null;
  reason: string | null;
  at: string;
}

export interface ToolCallView {
  toolUseId: string;
  /** The user message whose turn made the call. */
  messageId: string;
  tool: string;
  /** SHA-256 of the call's input (hex): equal inputs, equal hashes, without showing the input. */
  inputHash: string;
  /** Null while the call waits for approval or runs. */
  outcome: ToolCallOutcome | null;
  durationMs: number | null;
  /** The decision on a call that needed one: approved, denied, or timeout (then `by` is null). */
  approval: ApprovalRecord | null;
  createdAt: string;
  /** When the tool first ran (null: it never ran — denied, timed out, or not reached). */
  startedAt: string | null;
  /** Only with `includeIo`. */
  input?: unknown;
  /** Only with `includeIo`: what went back to the model as `tool_result`. */
  result?: { content: string; isError: boolean } | null;
}

export interface ListToolCallsOptions {
  /** Add each call's input and result (they may be large, and may hold personal data). */
  includeIo?: boolean | undefined;
  /** Only the calls of this turn (its user message id). */
  messageId?: string | undefined;
  limit?: number | undefined;
}

/** Reads a conversation's tool calls, oldest first. */
export interface ToolCallReader {
  list(
    tenantId: string,
    conversationId: string,
    options: { includeIo: boolean; messageId?: string | undefined; limit: number },
  ): Promise<ToolCallView[]>;
}
