/**
 * Tools of MCP servers (`MEMOIR_MCP_SERVERS`) as a `ToolProvider`: each server's tools are exposed as
 * `<server>__<tool>`, described by the server, and called with the model's `tool_use` id as the idempotency key in
 * the request's `_meta`. What a tool may do is read from its annotations, which are the server's hints: a tool is
 * idempotent (Temporal may retry it) when it says `idempotentHint` or `readOnlyHint`, and needs approval when it
 * says `destructiveHint`; the setting's `idempotent` / `approve` lists replace those hints for a server.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../log';
import { MCP_DEFAULT_ATTEMPTS, MCP_DEFAULT_TIMEOUT_MS, type McpServerConfig } from './mcp-config';
import { isServerRefusal, McpConnection } from './mcp-connection';
import { TOOL_NAME_PATTERN, type ToolCallContext, type ToolInfo, type ToolOutput, type ToolProvider } from './types';

/** Separates the server's name from its tool's in an exposed name. */
export const MCP_NAME_SEPARATOR = '__';

/** `_meta` key under which a call carries its idempotency key (the `tool_use` id). */
export const MCP_IDEMPOTENCY_KEY = 'idempotencyKey';

/** A configuration or naming problem found while listing an MCP server's tools: the worker should not start. */
export class McpToolError extends Error {
  override readonly name = 'McpToolError';
}

export class McpToolProvider implements ToolProvider {
  private readonly connections = new Map<string, McpConnection>();

  constructor(servers: McpServerConfig[], log?: Logger) {
    for (const server of servers) this.connections.set(server.name, new McpConnection(server, log));
  }

  async list(): Promise<ToolInfo[]> {
    const perServer = await Promise.all([...this.connections.values()].map((c) => listServer(c)));
    const tools = perServer.flat();
    const seen = new Set<string>();
    for (const tool of tools) {
      if (seen.has(tool.name)) throw new McpToolError(`two MCP tools are exposed as "${tool.name}"`);
      seen.add(tool.name);
    }
    return tools;
  }

  async call(name: string, input: unknown, ctx: ToolCallContext): Promise<ToolOutput> {
    const { connection, tool } = this.resolve(name);
    const server = connection.server;
    try {
      const result = await connection.callTool(
        { name: tool, arguments: asArguments(input), _meta: { [MCP_IDEMPOTENCY_KEY]: ctx.toolUseId } },
        { signal: ctx.signal, timeout: server.timeout ?? MCP_DEFAULT_TIMEOUT_MS },
      );
      return toToolOutput(result);
    } catch (err) {
      // The server answered with a protocol error (unknown tool, invalid arguments): the model should hear it. A
      // timeout or a lost connection is thrown, for the tool activity's retry policy to handle.
      if (isServerRefusal(err))
        return { content: `MCP server "${server.name}" refused the call: ${err.message}`, isError: true };
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.close()));
  }

  private resolve(name: string): { connection: McpConnection; tool: string } {
    const at = name.indexOf(MCP_NAME_SEPARATOR);
    const connection = at > 0 ? this.connections.get(name.slice(0, at)) : undefined;
    if (!connection) throw new McpToolError(`"${name}" is not the tool of a configured MCP server`);
    return { connection, tool: name.slice(at + MCP_NAME_SEPARATOR.length) };
  }
}

async function listServer(connection: McpConnection): Promise<ToolInfo[]> {
  const server = connection.server;
  const tools = await connection.listTools();
  const offered = new Set(tools.map((t) => t.name));
  for (const [field, names] of [
    ['approve', server.approve],
    ['idempotent', server.idempotent],
  ] as const) {
    const unknown = (names ?? []).filter((n) => !offered.has(n));
    // A typo here would silently drop an approval: refuse it.
    if (unknown.length > 0)
      throw new McpToolError(
        `MEMOIR_MCP_SERVERS: server "${server.name}" lists ${unknown.map((n) => `"${n}"`).join(', ')} in "${field}", but offers no such tool (it offers ${[...offered].join(', ') || 'none'})`,
      );
  }
  return tools.map((tool) => toToolInfo(server, tool));
}

/** How Memoir sees one MCP tool: its exposed name, the server's description and schema, and its flags. */
export function toToolInfo(server: McpServerConfig, tool: Tool): ToolInfo {
  const name = `${server.name}${MCP_NAME_SEPARATOR}${tool.name}`;
  if (!TOOL_NAME_PATTERN.test(name))
    throw new McpToolError(
      `MCP server "${server.name}" offers a tool "${tool.name}" that cannot be exposed: "${name}" must match ${TOOL_NAME_PATTERN.source} (letters, digits, _ and -, at most 64 characters)`,
    );
  const hints = tool.annotations ?? {};
  const idempotent = server.idempotent
    ? server.idempotent.includes(tool.name)
    : hints.idempotentHint === true || hints.readOnlyHint === true;
  const needsApproval = server.approve ? server.approve.includes(tool.name) : hints.destructiveHint === true;
  return {
    name,
    description: tool.description ?? tool.title ?? `Tool "${tool.name}" of the MCP server "${server.name}".`,
    inputSchema: tool.inputSchema,
    source: 'mcp',
    timeoutMs: server.timeout ?? MCP_DEFAULT_TIMEOUT_MS,
    retry: { maximumAttempts: idempotent ? (server.attempts ?? MCP_DEFAULT_ATTEMPTS) : 1 },
    idempotent,
    needsApproval,
  };
}

/** MCP content blocks as the text of a `tool_result`: text as is, other blocks named by kind. */
export function toToolOutput(result: CallToolResult): ToolOutput {
  const parts = result.content.map((block) => {
    switch (block.type) {
      case 'text':
        return block.text;
      case 'resource':
        return 'text' in block.resource ? block.resource.text : `[resource ${block.resource.uri}]`;
      case 'resource_link':
        return `[resource ${block.uri}]`;
      default:
        return `[${block.type} ${block.mimeType}]`;
    }
  });
  if (parts.length === 0 && result.structuredContent) parts.push(JSON.stringify(result.structuredContent));
  return result.isError ? { content: parts.join('\n'), isError: true } : { content: parts.join('\n') };
}

function asArguments(input: unknown): Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
}
