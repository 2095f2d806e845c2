/**
 * MCP tools through the real SDK client against the fixture server (the same SDK's server), over stdio and
 * streamable HTTP: listing with names and flags, calls carrying the idempotency key, error results, reconnecting
 * after the server process died, and the setting's validation.
 */
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import type { McpServerConfig } from '../../src/tools/mcp-config';
import { McpToolError, McpToolProvider } from '../../src/tools/mcp';
import type { ToolCallContext } from '../../src/tools/types';
import { startMcpHttpFixture } from '../fixtures/mcp-server';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'mcp-server.ts');
const stdioServer = (extra: Partial<McpServerConfig> = {}): McpServerConfig => ({
  name: 'fx',
  command: process.execPath,
  args: ['--import', 'tsx', FIXTURE],
  ...extra,
});

const ctx = (toolUseId: string): ToolCallContext => ({
  tenantId: 't',
  conversationId: 'c',
  toolUseId,
  signal: new AbortController().signal,
});

async function expectListAndCalls(provider: McpToolProvider, prefix: string): Promise<void> {
  const tools = await provider.list();
  expect(tools.map((t) => t.name).sort()).toEqual(
    ['delete_note', 'echo', 'fail', 'pid'].map((t) => `${prefix}__${t}`).sort(),
  );
  const byName = new Map(tools.map((t) => [t.name.slice(prefix.length + 2), t]));
  expect(byName.get('echo')).toMatchObject({
    description: 'Echoes the text back.',
    source: 'mcp',
    idempotent: true,
    needsApproval: false,
    inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
  });
  expect(byName.get('delete_note')).toMatchObject({
    idempotent: false,
    needsApproval: true,
    retry: { maximumAttempts: 1 },
  });
  expect(byName.get('fail')).toMatchObject({ idempotent: false, needsApproval: false });

  const echoed = await provider.call(`${prefix}__echo`, { text: 'hello' }, ctx('toolu_01abc'));
  expect(echoed.isError).toBeUndefined();
  expect(JSON.parse(echoed.content)).toEqual({ echo: 'hello', idempotencyKey: 'toolu_01abc' });

  expect(await provider.call(`${prefix}__fail`, {}, ctx('toolu_02'))).toEqual({
    content: 'the fixture failed on purpose',
    isError: true,
  });
  // Arguments the tool's schema refuses come back as an error result for the model, not a thrown failure.
  const refused = await provider.call(`${prefix}__echo`, { text: 42 }, ctx('toolu_03'));
  expect(refused.isError).toBe(true);
}

describe('MCP tools over stdio', () => {
  it('lists the tools with their flags and calls them with the tool_use id as idempotency key', async () => {
    const provider = new McpToolProvider([stdioServer()]);
    try {
      await expectListAndCalls(provider, 'fx');
    } finally {
      await provider.close();
    }
  });

  it('reconnects after the server process died', async () => {
    const provider = new McpToolProvider([stdioServer()]);
    try {
      const first = Number((await provider.call('fx__pid', {}, ctx('toolu_a'))).content);
      process.kill(first, 'SIGKILL');
      // The call after the death either finds the connection already gone (and reconnects first) or loses it
      // mid-call (and throws, for Temporal to retry); the one after that is served by a new process.
      let second: number | undefined;
      for (let i = 0; i < 3 && second === undefined; i++) {
        second = await provider
          .call('fx__pid', {}, ctx('toolu_b'))
          .then((out) => Number(out.content))
          .catch(() => undefined);
      }
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);
    } finally {
      await provider.close();
    }
  });

  it('lets the setting replace the annotations, and refuses a list naming a tool the server lacks', async () => {
    const overridden = new McpToolProvider([stdioServer({ approve: ['echo'], idempotent: ['delete_note'] })]);
    try {
      const tools = new Map((await overridden.list()).map((t) => [t.name, t]));
      expect(tools.get('fx__echo')).toMatchObject({ needsApproval: true, idempotent: false });
      expect(tools.get('fx__delete_note')).toMatchObject({ needsApproval: false, idempotent: true });
    } finally {
      await overridden.close();
    }
    const typo = new McpToolProvider([stdioServer({ approve: ['delete_notes'] })]);
    try {
      await expect(typo.list()).rejects.toThrow(McpToolError);
      await expect(typo.list()).rejects.toThrow(/"delete_notes" in "approve", but offers no such tool/);
    } finally {
      await typo.close();
    }
  });

  it('refuses a call to a tool of no configured server', async () => {
    const provider = new McpToolProvider([stdioServer()]);
    await expect(provider.call('other__echo', {}, ctx('toolu_x'))).rejects.toThrow(/not the tool of a configured/);
    await provider.close();
  });
});

describe('MCP tools over streamable HTTP', () => {
  it('lists the tools with their flags and calls them with the tool_use id as idempotency key', async () => {
    const fixture = await startMcpHttpFixture();
    const provider = new McpToolProvider([{ name: 'web', url: fixture.url, headers: { 'x-test': '1' } }]);
    try {
      await expectListAndCalls(provider, 'web');
    } finally {
      await provider.close();
      await fixture.close();
    }
  });
});

describe('MEMOIR_MCP_SERVERS', () => {
  const load = (value: string) => () => loadConfig({ MEMOIR_MCP_SERVERS: value });

  it('parses stdio and HTTP servers', () => {
    const config = loadConfig({
      MEMOIR_MCP_SERVERS: JSON.stringify([
        { name: 'files', command: 'npx', args: ['srv'], env: { A: 'b' }, approve: ['rm'], timeout: '10s' },
        { name: 'web', url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer x' } },
      ]),
    });
    expect(config.mcpServers).toEqual([
      { name: 'files', command: 'npx', args: ['srv'], env: { A: 'b' }, approve: ['rm'], timeout: 10_000 },
      { name: 'web', url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer x' } },
    ]);
    expect(loadConfig({}).mcpServers).toEqual([]);
  });

  it.each([
    ['not json', /MEMOIR_MCP_SERVERS: not JSON/],
    ['{"name":"a","command":"x"}', /expected a JSON list/],
    ['[{"name":"a"}]', /entry 1 \("a"\): give either "command" \(stdio\) or "url" \(streamable HTTP\), not neither/],
    ['[{"name":"a","command":"x","url":"http://h"}]', /not both/],
    ['[{"name":"a__b","command":"x"}]', /entry 1 \("a__b"\): name: "name" must match/],
    ['[{"name":"a","url":"ftp://h/x"}]', /"url" must be an http\(s\) URL/],
    ['[{"name":"a","command":"x","timeout":"soon"}]', /"timeout" is not a duration/],
    ['[{"name":"a","command":"x","extra":1}]', /entry 1 \("a"\): .*extra/],
    ['[{"name":"a","command":"x"},{"name":"a","url":"http://h"}]', /entry 2: server name "a" is used twice/],
  ])('refuses %s with a clear message', (value, message) => {
    expect(load(value)).toThrow(ConfigError);
    expect(load(value)).toThrow(message);
  });
});
