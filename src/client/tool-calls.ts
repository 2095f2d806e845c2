/**
 * What clients see of a conversation's tool calls: one row per call from the `tool_calls` table (tool, input hash,
 * outcome, duration, approval), with inputs and results only when asked for. `MemoirClient` reads them through the
 * narrow `ToolCallReader`, so the API and the CLI do not depend on how the rows are stored.
 */
import type { ToolCallOutcome } from '../../workflows/contract';

export interface ToolCallApproval {
  decision: 'approved' | 'denied' | 'timed_out';
  /** Who decided (absent for a timeout). */
  by: string | null;
  reason: string | null;
  decidedAt: string | null;
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
  approval: ToolCallApproval | null;
  startedAt: string;
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
