/**
 * `defineTool`: how a tools module (MEMOIR_TOOLS_MODULE) declares a TypeScript function as a tool. The zod schema
 * is both the JSON schema the model sees and the check every input passes before `run` is called.
 */
import { z } from 'zod';
import { TOOL_NAME_PATTERN, type ToolCallContext, type ToolInfo, type ToolOutput, type ToolRetry } from './types';

export interface ToolDefinition<I extends z.ZodType> {
  name: string;
  description: string;
  input: I;
  /** Start-to-close bound on one call (default 30 s). */
  timeoutMs?: number;
  /** Attempts for an idempotent tool (default 3); a non-idempotent tool runs at most once whatever this says. */
  retry?: ToolRetry;
  /** Running a call twice with the same `ctx.toolUseId` does no harm (default false: at most once). */
  idempotent?: boolean;
  needsApproval?: boolean;
  /** Returns the text for the model, or a ToolOutput; throwing sends the error's message back as is_error. */
  run(input: z.infer<I>, ctx: ToolCallContext): Promise<string | ToolOutput> | string | ToolOutput;
}

/** A tool made by `defineTool`: its info and a `call` that validates input first. */
export interface DefinedTool {
  info: ToolInfo;
  call(input: unknown, ctx: ToolCallContext): Promise<ToolOutput>;
}

export class ToolInputError extends Error {
  override name = 'ToolInputError';
}

export function defineTool<I extends z.ZodType>(def: ToolDefinition<I>): DefinedTool {
  if (!TOOL_NAME_PATTERN.test(def.name)) throw new Error(`tool name ${JSON.stringify(def.name)} is not valid`);
  const { $schema: _dialect, ...schema } = z.toJSONSchema(def.input, { io: 'input' }) as Record<string, unknown>;
  if (schema.type !== 'object') throw new Error(`tool ${def.name}: its input must be a z.object(...)`);
  return {
    info: {
      name: def.name,
      description: def.description,
      inputSchema: schema,
      source: 'module',
      timeoutMs: def.timeoutMs ?? 30_000,
      retry: def.retry ?? { maximumAttempts: 3 },
      idempotent: def.idempotent ?? false,
      needsApproval: def.needsApproval ?? false,
    },
    async call(input, ctx) {
      const parsed = def.input.safeParse(input);
      if (!parsed.success) {
        return { content: `invalid input for ${def.name}: ${z.prettifyError(parsed.error)}`, isError: true };
      }
      const out = await def.run(parsed.data, ctx);
      return typeof out === 'string' ? { content: out } : out;
    },
  };
}

/** A provider over tools made by `defineTool` (a tools module, Memoir's memory tools). */
export function definedToolsProvider(tools: DefinedTool[]) {
  const byName = new Map(tools.map((t) => [t.info.name, t]));
  return {
    list: () => Promise.resolve(tools.map((t) => t.info)),
    call(name: string, input: unknown, ctx: ToolCallContext): Promise<ToolOutput> {
      const tool = byName.get(name);
      if (!tool) return Promise.resolve({ content: `no tool named ${name}`, isError: true });
      return tool.call(input, ctx);
    },
  };
}
