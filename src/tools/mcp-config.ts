/**
 * The `MEMOIR_MCP_SERVERS` setting: a JSON list of MCP servers whose tools the worker offers. Each entry is either a
 * command run over stdio or a streamable HTTP endpoint; a few optional fields override what the server's tool
 * annotations say. Parsed by `src/config.ts`, so a bad entry stops the process at start with the entry named.
 */
import { z } from 'zod';
import { parseDuration } from '../duration';

/**
 * Server names prefix their tools (`<server>__<tool>`), so they may not hold `__` themselves: that keeps the split of
 * an exposed name unambiguous. Short, so the tool part keeps most of the 64 characters a tool name may have.
 */
export const MCP_SERVER_NAME_PATTERN = /^(?!.*__)[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Default bound on one MCP tool call, and its attempts when the tool is idempotent. */
export const MCP_DEFAULT_TIMEOUT_MS = 30_000;
export const MCP_DEFAULT_ATTEMPTS = 3;

const toolNames = z.array(z.string().min(1)).optional();
const stringMap = z.record(z.string(), z.string());
const durationText = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"timeout" is not a duration: "${text}" (use 500ms, 30s, 5m)` });
    return z.NEVER;
  }
  return ms;
});

const common = {
  name: z.string().regex(MCP_SERVER_NAME_PATTERN, {
    message: '"name" must match [A-Za-z0-9][A-Za-z0-9_-]{0,31} without "__"',
  }),
  /** When given, exactly these tools need approval (else: those the server marks `destructiveHint`). */
  approve: toolNames,
  /** When given, exactly these tools are idempotent (else: those marked `idempotentHint` or `readOnlyHint`). */
  idempotent: toolNames,
  timeout: durationText.optional(),
  /** Attempts of an idempotent tool's call (a non-idempotent one always gets one). */
  attempts: z.number().int().min(1).max(20).optional(),
};

const stdioServer = z.strictObject({
  ...common,
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: stringMap.optional(),
});

const httpServer = z.strictObject({
  ...common,
  url: z.url({ protocol: /^https?$/, message: '"url" must be an http(s) URL' }),
  headers: stringMap.optional(),
});

export type McpStdioServer = z.output<typeof stdioServer>;
export type McpHttpServer = z.output<typeof httpServer>;
export type McpServerConfig = McpStdioServer | McpHttpServer;

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}

function parseEntry(entry: unknown, index: number): { server?: McpServerConfig; problem?: string } {
  const label = `entry ${index + 1}${isNamed(entry) ? ` ("${entry.name}")` : ''}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return { problem: `${label}: expected an object` };
  const hasCommand = 'command' in entry;
  const hasUrl = 'url' in entry;
  if (hasCommand === hasUrl)
    return {
      problem: `${label}: give either "command" (stdio) or "url" (streamable HTTP), not ${hasUrl ? 'both' : 'neither'}`,
    };
  const result = (hasCommand ? stdioServer : httpServer).safeParse(entry);
  if (!result.success) return { problem: `${label}: ${result.error.issues.map(describeIssue).join('; ')}` };
  return { server: result.data };
}

const isNamed = (entry: unknown): entry is { name: string } =>
  typeof entry === 'object' && entry !== null && typeof (entry as { name?: unknown }).name === 'string';

/** The setting's schema: JSON text → validated server list, every problem reported with its entry. */
export const mcpServersSetting = z.string().transform((text, ctx): McpServerConfig[] => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'not JSON: expected a list like [{"name":"files","command":"npx","args":["my-mcp-server"]}]',
    });
    return z.NEVER;
  }
  if (!Array.isArray(parsed)) {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON list of servers' });
    return z.NEVER;
  }
  const servers: McpServerConfig[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry, i) => {
    const { server, problem } = parseEntry(entry, i);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
    else if (server && seen.has(server.name))
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1}: server name "${server.name}" is used twice` });
    else if (server) {
      seen.add(server.name);
      servers.push(server);
    }
  });
  return servers;
});
