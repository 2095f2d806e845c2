/**
 * Tools at the surfaces, end to end on a real stack (API, worker, Temporal, PostgreSQL, the real SDK against the
 * offline model, the fixture MCP server over stdio): creation with tools, the `tool_approval_required` SSE event,
 * approve / deny through HTTP and through the chat's prompt, the tool-call list, and the refusals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient, type ApprovalRequest } from '../src/cli/api-client';
import { approvalPrompt } from '../src/cli/chat';
import { show } from '../src/cli/show';
import { startStack, uniqueId, type Stack } from './helpers/stack';
import { memoir } from './cli/run-cli';

const TOOLS_MODULE = path.join(__dirname, 'fixtures', 'test-tools.ts');
const MCP_FIXTURE = path.join(__dirname, 'fixtures', 'mcp-server.ts');

let stack: Stack;
let api: ApiClient;
beforeAll(async () => {
  stack = await startStack({
    env: {
      MEMOIR_TOOLS_MODULE: TOOLS_MODULE,
      MEMOIR_MCP_SERVERS: JSON.stringify([
        { name: 'fx', command: process.execPath, args: ['--import', 'tsx', MCP_FIXTURE] },
      ]),
      MEMOIR_TOOL_APPROVAL_TIMEOUT: '2m',
    },
  });
  api = new ApiClient(stack.serving.api!.url, stack.tenants.acme.key);
});
afterAll(() => stack?.stop());
afterEach(() => stack.offline.reset());

async function create(tools: string[]): Promise<string> {
  const conversationId = uniqueId('api-tools');
  const res = await stack.http('POST', '/v1/conversations', { conversationId, userId: 'ada', tools });
  expect(res.status).toBe(201);
  return conversationId;
}

/** The model asks for one call of `tool` on the next message, then answers from its result. */
const scriptCall = (tool: string, input: Record<string, unknown>) =>
  stack.offline.script([
    { afterToolResults: false, times: 1, action: { kind: 'tool_use', calls: [{ name: tool, input }] } },
  ]);

describe('creating a conversation with tools', () => {
  it('refuses malformed, repeated and unknown tool names with a JSON error', async () => {
    for (const [tools, code] of [
      [['has space'], 'invalid_request'],
      [['delete_file', 'delete_file'], 'invalid_request'],
      [['no_such_tool'], 'unknown_tool'],
    ] as const) {
      const res = await stack.http('POST', '/v1/conversations', { userId: 'ada', tools });
      expect(res.status, JSON.stringify(tools)).toBe(400);
      expect(res.body.error.code).toBe(code);
    }
  });
});

describe('memoir chat --tool', () => {
  const cliEnv = () => ({
    MEMOIR_API_URL: stack.serving.api!.url,
    MEMOIR_API_KEY: stack.tenants.acme.key,
    MEMOIR_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-chat-')),
  });

  it('creates the conversation with each tool named, and reports an unknown one', async () => {
    const id = uniqueId('chat-tools');
    // No terminal: the chat ends at once; the conversation was created first.
    await memoir(['chat', id, '--tool', 'delete_file', '--tool', 'fx__echo'], cliEnv());
    const row = await stack.serving.services.conversations.get(stack.tenants.acme.id, id);
    expect(row?.tools).toEqual(['delete_file', 'fx__echo']);

    const refused = await memoir(['chat', uniqueId('chat-tools'), '--tool', 'no_such_tool'], cliEnv());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('unknown tool: no_such_tool');
  });
});

describe('approval over HTTP', () => {
  it('streams tool_approval_required, runs the call once approved, and records who approved it', async () => {
    const id = await create(['delete_file']);
    await scriptCall('delete_file', { path: '/tmp/a' });
    const asked: ApprovalRequest[] = [];
    const result = await api.sendStreaming(id, 'please delete /tmp/a', {
      onDelta: () => undefined,
      onApprovalRequired: async (request) => {
        asked.push(request);
        // No `by`: the API names the key that decided.
        await api.approveToolCall(id, request.toolUseId, { reason: 'looks fine' });
      },
    });
    expect(asked).toEqual([{ toolUseId: expect.any(String), tool: 'delete_file', input: { path: '/tmp/a' } }]);
    expect(result.reply.content).toContain('deleted /tmp/a');

    const listed = await stack.http('GET', `/v1/conversations/${id}/tool-calls`);
    expect(listed.status).toBe(200);
    expect(listed.body.toolCalls).toEqual([
      expect.objectContaining({
        toolUseId: asked[0]!.toolUseId,
        tool: 'delete_file',
        outcome: 'ok',
        inputHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        approval: expect.objectContaining({
          decision: 'approved',
          by: `configured key of ${stack.tenants.acme.id}`,
          reason: 'looks fine',
        }),
      }),
    ]);
    // Inputs and results only when asked for.
    expect(listed.body.toolCalls[0]).not.toHaveProperty('input');
    const withIo = await stack.http('GET', `/v1/conversations/${id}/tool-calls?include=io`);
    expect(withIo.body.toolCalls[0]).toMatchObject({
      input: { path: '/tmp/a' },
      result: { content: 'deleted /tmp/a', isError: false },
    });

    // `memoir show` lists the turn's call under its message.
    const services = stack.serving.services;
    const shown = await show(
      {
        memoir: services.memoir,
        conversations: services.conversations,
        connection: services.temporal.connection,
        namespace: 'default',
      },
      id,
      { tenant: stack.tenants.acme.id, limit: 50, json: false },
    );
    expect(shown).toMatch(
      new RegExp(
        `please delete /tmp/a\\n\\s+tool delete_file · ${asked[0]!.toolUseId} · ok · \\d+ ms · approved by configured key of ${stack.tenants.acme.id} \\(looks fine\\)`,
      ),
    );

    // The call no longer waits: deciding again is a conflict, as JSON.
    const again = await stack.http('POST', `/v1/conversations/${id}/tool-calls/${asked[0]!.toolUseId}/deny`, {});
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'tool_call_not_pending', message: expect.any(String) });
  });

  it("denies through the chat's prompt: the model hears it, and the reason and who are recorded", async () => {
    const id = await create(['delete_file']);
    await scriptCall('delete_file', { path: '/tmp/b' });
    const answers = ['n', 'not today'];
    const questions: string[] = [];
    let printed = '';
    const out = { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream;
    const prompt = approvalPrompt({ api, conversationId: id, out }, async (question) => {
      questions.push(question);
      return answers.shift()!;
    });
    const result = await api.sendStreaming(id, 'delete /tmp/b', {
      onDelta: () => undefined,
      onApprovalRequired: prompt,
    });
    expect(questions).toHaveLength(2);
    expect(printed).toContain('tool delete_file asks to run with {"path":"/tmp/b"}');
    expect(printed).toContain('denied');
    expect(result.reply.content).toContain('denied');
    const { toolCalls } = await api.toolCalls(id);
    expect(toolCalls[0]).toMatchObject({
      outcome: 'denied',
      approval: { decision: 'denied', by: `configured key of ${stack.tenants.acme.id}`, reason: 'not today' },
    });
  });

  it('refuses a decision on nothing pending, unknown conversations, and other tenants', async () => {
    const id = await create(['delete_file']);
    const route = (conversation: string, verb: string) =>
      `/v1/conversations/${conversation}/tool-calls/toolu_nothing/${verb}`;
    const idle = await stack.http('POST', route(id, 'approve'), { by: 'ada' });
    expect(idle.status).toBe(409);
    expect(idle.body.error.code).toBe('tool_call_not_pending');

    for (const verb of ['approve', 'deny']) {
      const missing = await stack.http('POST', route('no-such-conversation', verb), {});
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('not_found');
      const foreign = await stack.http('POST', route(id, verb), {}, stack.tenants.globex.key);
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('not_found');
    }
    expect((await stack.http('GET', '/v1/conversations/no-such-conversation/tool-calls')).status).toBe(404);
    const foreignList = await stack.http(
      'GET',
      `/v1/conversations/${id}/tool-calls`,
      undefined,
      stack.tenants.globex.key,
    );
    expect(foreignList.status).toBe(404);

    const badBody = await stack.http('POST', route(id, 'approve'), { by: 'ada', extra: true });
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.code).toBe('invalid_request');
    const badQuery = await stack.http('GET', `/v1/conversations/${id}/tool-calls?include=everything`);
    expect(badQuery.status).toBe(400);
  });
});

describe('approval on a conversation whose workflow is closed', () => {
  it('answers 409 tool_call_not_pending, as JSON', async () => {
    const id = await create(['delete_file']);
    const { memoir } = stack.serving.services;
    await memoir.endConversation(stack.tenants.acme.id, id, 'test');
    await memoir.handle(stack.tenants.acme.id, id).result();
    const res = await stack.http('POST', `/v1/conversations/${id}/tool-calls/toolu_late/approve`, {});
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('tool_call_not_pending');
  });
});

describe('MCP tools end to end', () => {
  it('calls an MCP tool from a turn, with the tool_use id as its idempotency key', async () => {
    const id = await create(['fx__echo']);
    await scriptCall('fx__echo', { text: 'over MCP' });
    const result = await api.send(id, 'echo something');
    const { toolCalls } = await api.toolCalls(id, { includeIo: true });
    expect(toolCalls).toHaveLength(1);
    const call = toolCalls[0]!;
    expect(call).toMatchObject({ tool: 'fx__echo', outcome: 'ok' });
    expect(JSON.parse(call.result!.content)).toEqual({ echo: 'over MCP', idempotencyKey: call.toolUseId });
    expect(result.reply.content).toContain('over MCP');
  });
});
