/**
 * What a tool is to Memoir, whatever its source: a TypeScript function from the worker's tools module, a tool of an
 * MCP server, or one of Memoir's own memory tools. Shared by the registry, the tool activity and the API; the
 * workflow sees only `ToolInfo` (names and flags, never code).
 */

// Defined with the workflow contract, which the client package carries.
export { TOOL_NAME_PATTERN } from '../../workflows/contract';

export type ToolSource = 'module' | 'mcp' | 'memory';

/** How Temporal may retry one call of a tool (a non-idempotent tool gets one attempt whatever this says). */
export interface ToolRetry {
  maximumAttempts: number;
  initialIntervalMs?: number;
}

/** What the workflow and the model need to know of a tool: everything but its code. */
export interface ToolInfo {
  name: string;
  description: string;
  /** JSON schema of the input (`type: 'object'`), sent to the model as `input_schema`. */
  inputSchema: Record<string, unknown>;
  source: ToolSource;
  /** Start-to-close bound on one call. */
  timeoutMs: number;
  retry: ToolRetry;
  /** True when running the call twice with the same idempotency key does no harm: then Temporal may retry it. */
  idempotent: boolean;
  /** The turn pauses until a person approves or denies the call. */
  needsApproval: boolean;
}

/** Handed to a tool's code for one call. */
export interface ToolCallContext {
  tenantId: string;
  conversationId: string;
  /** The model's `tool_use` id: the call's idempotency key, the same on every attempt. */
  toolUseId: string;
  /** Aborted when the activity is cancelled or times out. */
  signal: AbortSignal;
}

/** What a call returns to the model as `tool_result`. */
export interface ToolOutput {
  content: string;
  isError?: boolean;
}

/** A source of tools: lists them once at worker start and runs calls by name. */
export interface ToolProvider {
  list(): Promise<ToolInfo[]>;
  call(name: string, input: unknown, ctx: ToolCallContext): Promise<ToolOutput>;
  close?(): Promise<void>;
}
