/**
 * One MCP server as the worker sees it: a client over stdio or streamable HTTP that connects on first use and again
 * after the connection dropped (a server process that died, an HTTP session the server forgot). A call that fails
 * because the connection went away is not repeated here: the tool activity decides, through Temporal's retry
 * policy, whether the call may run again.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  McpError,
  type CallToolRequest,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../log';
import type { McpServerConfig } from './mcp-config';

const CLIENT_INFO = { name: 'memoir', version: '1' };

export class McpConnection {
  private current: Promise<Client> | undefined;
  private closed = false;

  constructor(
    readonly server: McpServerConfig,
    private readonly log?: Logger,
  ) {}

  /** Every tool the server lists, following its pagination. */
  async listTools(): Promise<Tool[]> {
    const client = await this.client();
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.guard(client, client.listTools(cursor === undefined ? {} : { cursor }));
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return tools;
  }

  async callTool(
    params: CallToolRequest['params'],
    options: { signal: AbortSignal; timeout: number },
  ): Promise<CallToolResult> {
    const client = await this.client();
    const result = await this.guard(client, client.callTool(params, undefined, options));
    // Servers on protocol versions before 2024-11-05 answer `{ toolResult }`; keep the shape the rest expects.
    if ('toolResult' in result && !('content' in result))
      return { content: [{ type: 'text', text: JSON.stringify(result.toolResult) }] };
    return result as CallToolResult;
  }

  async close(): Promise<void> {
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    if (current) await (await current.catch(() => undefined))?.close();
  }

  /** The connected client, connecting (once, however many callers wait) when there is none. */
  private client(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error(`MCP server "${this.server.name}": the connection is closed`));
    if (!this.current) {
      const connecting = this.connect();
      this.current = connecting;
      // A failed attempt is forgotten, so the next call tries again.
      connecting.catch(() => {
        if (this.current === connecting) this.current = undefined;
      });
    }
    return this.current;
  }

  private async connect(): Promise<Client> {
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    const transport = this.transport();
    client.onclose = () => this.forget(client);
    client.onerror = (err) => this.log?.warn({ mcpServer: this.server.name, err: err.message }, 'MCP transport error');
    try {
      await client.connect(transport);
    } catch (err) {
      await client.close().catch(() => undefined);
      throw new Error(`MCP server "${this.server.name}" did not connect: ${(err as Error).message}`, { cause: err });
    }
    this.log?.info({ mcpServer: this.server.name }, 'MCP server connected');
    return client;
  }

  private transport(): Transport {
    const s = this.server;
    if ('url' in s)
      return new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: s.headers ?? {} } });
    const transport = new StdioClientTransport({
      command: s.command,
      args: s.args ?? [],
      env: { ...getDefaultEnvironment(), ...s.env },
      // The server's own log lines go to ours, labelled, instead of straight onto the worker's stderr.
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) =>
      this.log?.debug({ mcpServer: s.name, stderr: chunk.toString('utf8').trimEnd() }, 'MCP server stderr'),
    );
    return transport;
  }

  /** A failure that is not the server's answer (connection closed, transport error) drops the client. */
  private async guard<T>(client: Client, request: Promise<T>): Promise<T> {
    try {
      return await request;
    } catch (err) {
      if (isConnectionFailure(err)) {
        this.forget(client);
        await client.close().catch(() => undefined);
      }
      throw err;
    }
  }

  private forget(client: Client): void {
    const current = this.current;
    if (!current) return;
    void current.then(
      (c) => {
        if (c === client && this.current === current) this.current = undefined;
      },
      () => undefined,
    );
  }
}

/** SDK codes for a request that got no answer: the connection closed, or the SDK's own timeout ran out. */
const NO_ANSWER: readonly number[] = [ErrorCode.ConnectionClosed, ErrorCode.RequestTimeout];

/** True when the server answered the request with an error (unknown tool, invalid arguments, its own failure). */
export function isServerRefusal(err: unknown): err is McpError {
  return err instanceof McpError && !NO_ANSWER.includes(err.code);
}

/** True for a failure of the connection itself, after which the client is dropped and made again. */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof McpError) return err.code === (ErrorCode.ConnectionClosed as number);
  // An abort leaves the connection usable; anything else (fetch failed, HTTP 404 for a session the server forgot, a
  // broken pipe) does not.
  return !(err instanceof Error && err.name === 'AbortError');
}
