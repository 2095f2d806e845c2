/**
 * Durable tool use on the real stack (Temporal dev server, PostgreSQL, the real SDK against the offline model):
 * the loop, concurrency, storage by reference, approval, and Memoir's memory tools.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import {
  approveToolCallUpdate,
  conversationWorkflowId,
  denyToolCallUpdate,
  sendMessageUpdate,
  type ConversationState,
} from '../workflows/contract';
import { rerun } from '../src/cli/rerun';
import type { ToolLogLine } from './fixtures/test-tools';
import { startStack, uniqueId, type Stack } from './helpers/stack';
import { historyAfterTurns } from './helpers/turn-history';

const TOOLS_MODULE = path.join(__dirname, 'fixtures', 'test-tools.ts');

function toolLog(file: string): ToolLogLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ToolLogLine);
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tool use', () => {
  let stack: Stack;
  let logFile: string;
  beforeAll(async () => {
    logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-tools-')), 'calls.jsonl');
    process.env.MEMOIR_TEST_TOOL_LOG = logFile;
    stack = await startStack({
      env: {
        MEMOIR_TOOLS_MODULE: TOOLS_MODULE,
        MEMOIR_TOOL_APPROVAL_TIMEOUT: '3s',
        MEMOIR_MAX_TOOL_STEPS: '3',
        // A small window, so that an early message is soon out of it (search_memory's test).
        MEMOIR_CONTEXT_BUDGET: '500',
        MEMOIR_RECENT_MESSAGES: '4',
      },
    });
  });
  afterAll(() => stack?.stop());
  afterEach(() => stack.offline.reset());

  const start = async (tools: string[]) => {
    const conversationId = uniqueId('tools');
    await stack.serving.services.memoir.startConversation(stack.tenants.acme.id, {
      conversationId,
      userId: 'u1',
      tools,
    });
    return conversationId;
  };
  const send = (conversationId: string, content: string) =>
    stack.serving.services.memoir.sendMessage(stack.tenants.acme.id, conversationId, { content });
  const calls = (conversationId: string) =>
    stack.serving.services.tools.calls.list(stack.tenants.acme.id, conversationId);
  const historyBytes = async (conversationId: string) => {
    const handle = stack.serving.services.memoir.handle(stack.tenants.acme.id, conversationId);
    const history = await historyAfterTurns(handle);
    return { bytes: temporal.api.history.v1.History.encode(history).finish().length, json: JSON.stringify(history) };
  };

  it('runs a two-step tool loop: the tool result reaches the model and the reply answers from it', async () => {
    const id = await start(['lookup_weather']);
    await stack.offline.script([
      {
        lastUserContains: 'weather',
        afterToolResults: false,
        times: 1,
        action: {
          kind: 'tool_use',
          text: 'Let me look.',
          calls: [{ name: 'lookup_weather', input: { city: 'Oslo' } }],
        },
      },
    ]);
    const result = await send(id, 'What is the weather in Oslo?');
    expect(result.reply.degraded).toBe(false);
    expect(result.reply.content).toContain('Oslo: 21°C and sunny');

    const [call] = await calls(id);
    expect(call).toMatchObject({ tool: 'lookup_weather', outcome: 'ok', isError: false, input: { city: 'Oslo' } });
    expect(call!.result).toBe('Oslo: 21°C and sunny');
    const requests = (await stack.offline.requests()).filter((r) => r.body.tools);
    expect(requests).toHaveLength(2);
    // Step 2 is rebuilt from PostgreSQL: the assistant's tool_use, then the tool_result.
    const step2 = requests[1]!.body.messages as { role: string; content: { type: string; tool_use_id?: string }[] }[];
    expect(step2.at(-2)!.content.map((b) => b.type)).toEqual(['text', 'tool_use']);
    expect(step2.at(-1)!.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: call!.toolUseId });
    // Tools lead the request with their JSON schema.
    expect(requests[0]!.body.tools[0]).toMatchObject({ name: 'lookup_weather', input_schema: { type: 'object' } });

    // Both model steps are accepted calls: totals reconcile with llm_calls.
    const accepted = await stack.serving.services.llmCalls.acceptedTotals(stack.tenants.acme.id, id);
    expect(accepted.calls).toBe(2);
    expect(accepted.outputTokens).toBe(result.usage.outputTokens);
    // A later turn sees the final text, not the tool exchange.
    await send(id, 'thanks');
    const last = (await stack.offline.requests()).at(-1)!.body;
    expect(JSON.stringify(last.messages)).not.toContain('tool_use');
  });

  it("memoir rerun replays the turn's tool results from the record instead of calling the tool", async () => {
    const id = await start(['lookup_weather']);
    const weatherCall = {
      lastUserContains: 'weather',
      afterToolResults: false,
      times: 1,
      action: { kind: 'tool_use' as const, calls: [{ name: 'lookup_weather', input: { city: 'Lima' } }] },
    };
    await stack.offline.script([weatherCall]);
    const turn = await send(id, 'What is the weather in Lima?');
    const runsBefore = toolLog(logFile).filter((l) => l.tool === 'lookup_weather').length;

    await stack.offline.script([weatherCall]);
    const s = stack.serving.services;
    const out = await rerun(
      {
        conversations: s.conversations,
        manifests: s.manifests,
        summaries: s.summaries,
        llmCalls: s.llmCalls,
        model: s.model.client,
        settings: { maxTokens: 1024, cacheMinimums: {}, systemCacheTtl: '5m' },
        defaultModel: 'claude-sonnet-5-5',
        timeoutMs: 30_000,
        tools: {
          definitions: (names) => s.tools.registry.definitions(names),
          recorded: (t, c, m) => s.tools.calls.list(t, c, m),
          maxSteps: 3,
        },
      },
      id,
      turn.messageId,
      { tenant: stack.tenants.acme.id, json: true },
    );
    const report = JSON.parse(out);
    expect(report.tools).toEqual({ steps: 2, replayed: 1, notRecorded: 0 });
    expect(report.rerun.content).toBe(turn.reply.content);
    expect(toolLog(logFile).filter((l) => l.tool === 'lookup_weather')).toHaveLength(runsBefore);
  });

  it('runs the calls of one step concurrently', async () => {
    const id = await start(['slow_step']);
    await stack.offline.script([
      {
        afterToolResults: false,
        times: 1,
        action: {
          kind: 'tool_use',
          calls: [
            { name: 'slow_step', input: { label: 'a' } },
            { name: 'slow_step', input: { label: 'b' } },
          ],
        },
      },
    ]);
    await send(id, 'do both');
    const stored = await calls(id);
    const lines = toolLog(logFile).filter((l) => stored.some((c) => c.toolUseId === l.toolUseId));
    const span = (label: string) => {
      const mine = lines.filter((l) => (l.input as { label: string }).label === label);
      return { start: mine.find((l) => l.event === 'start')!.at, end: mine.find((l) => l.event === 'end')!.at };
    };
    const [a, b] = [span('a'), span('b')];
    // Each started before the other ended: they overlapped.
    expect(a.start).toBeLessThan(b.end);
    expect(b.start).toBeLessThan(a.end);
  });

  it('keeps tool results out of workflow history beyond a small bound', async () => {
    const id = await start(['big_result']);
    await stack.offline.script([
      {
        afterToolResults: false,
        times: 1,
        action: { kind: 'tool_use', calls: [{ name: 'big_result', input: { kb: 200 } }] },
      },
    ]);
    await send(id, 'fetch the big thing');
    const [call] = await calls(id);
    expect(call!.result!.length).toBeGreaterThan(60_000); // stored (bounded), not in history
    const { bytes, json } = await historyBytes(id);
    expect(json).not.toContain('x'.repeat(200));
    expect(bytes).toBeLessThan(40_000);
    // The model got a bounded result.
    const step2 = (await stack.offline.requests()).filter((r) => r.body.tools)[1]!.body;
    expect(JSON.stringify(step2).length).toBeLessThan(40_000);
  });

  it('ends with a clear reply when the step limit is reached', async () => {
    const id = await start(['lookup_weather']);
    await stack.offline.script([
      { action: { kind: 'tool_use', calls: [{ name: 'lookup_weather', input: { city: 'Rome' } }] } },
    ]);
    const result = await send(id, 'loop forever');
    expect(result.reply.content).toContain('limit of 3 tool steps');
    const stored = await calls(id);
    expect(stored.map((c) => c.outcome)).toEqual(['ok', 'ok', 'step_limit']);
  });

  it('refuses an unknown tool at creation', async () => {
    const err = await stack.serving.services.memoir
      .startConversation(stack.tenants.acme.id, { userId: 'u1', tools: ['no_such_tool'] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unknown_tool', status: 400 });
  });

  it('refuses an unknown tool at creation over HTTP with 400 unknown_tool', async () => {
    const bad = await stack.http('POST', '/v1/conversations', { userId: 'u1', tools: ['no_such_tool'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('unknown_tool');
    const ok = await stack.http('POST', '/v1/conversations', { userId: 'u1', tools: ['lookup_weather'] });
    expect(ok.status).toBeLessThan(300);
  });

  it('a run started with an unknown tool stores nothing, refuses its message and ends', async () => {
    const s = stack.serving.services;
    const tenantId = stack.tenants.acme.id;
    const conversationId = uniqueId('unknown');
    // Update-with-start, as clients send a first message: the update is in the run's first workflow task.
    const start = new WithStartWorkflowOperation('conversationWorkflow', {
      taskQueue: s.config.temporal.taskQueue,
      workflowId: conversationWorkflowId(tenantId, conversationId),
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [{ tenantId, conversationId, userId: 'u1', policy: s.config.policy, tools: ['no_such_tool'] }],
    });
    const refused = await s.temporal.client.workflow
      .executeUpdateWithStart(sendMessageUpdate, { args: [{ content: 'hello' }], startWorkflowOperation: start })
      .catch((e: unknown) => e);
    const handle = await start.workflowHandle();
    expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('UnknownTool');
    expect(await handle.result()).toMatchObject({ status: 'ended', turnCount: 0 });
    expect(await s.conversations.get(tenantId, conversationId)).toBeNull();
  });

  describe('approval', () => {
    const pending = (id: string) =>
      until(async () => {
        const state: ConversationState = await stack.serving.services.memoir
          .handle(stack.tenants.acme.id, id)
          .query('getState');
        return state.pendingApprovals?.[0];
      }, 'a pending approval');
    const askToDelete = async () => {
      const id = await start(['delete_file']);
      await stack.offline.script([
        {
          afterToolResults: false,
          times: 1,
          action: { kind: 'tool_use', calls: [{ name: 'delete_file', input: { path: '/tmp/x' } }] },
        },
      ]);
      return { id, reply: send(id, 'delete /tmp/x') };
    };

    it('runs an approved call and records who approved it', async () => {
      const { id, reply } = await askToDelete();
      const waiting = await pending(id);
      expect(waiting.tool).toBe('delete_file');
      const handle = stack.serving.services.memoir.handle(stack.tenants.acme.id, id);
      await handle.executeUpdate(approveToolCallUpdate, {
        args: [{ toolUseId: waiting.toolUseId, by: 'alice', reason: 'fine' }],
      });
      expect((await reply).reply.content).toContain('deleted /tmp/x');
      const [call] = await calls(id);
      expect(call).toMatchObject({ outcome: 'ok', approval: { decision: 'approved', by: 'alice', reason: 'fine' } });
      // Deciding again: the call no longer waits.
      const again = await handle
        .executeUpdate(approveToolCallUpdate, { args: [{ toolUseId: waiting.toolUseId, by: 'alice' }] })
        .catch((e: unknown) => e);
      expect(again).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((again as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('ToolCallNotPending');
    });

    it('sends a denied call back to the model as denied, without running it', async () => {
      const { id, reply } = await askToDelete();
      const waiting = await pending(id);
      const handle = stack.serving.services.memoir.handle(stack.tenants.acme.id, id);
      await handle.executeUpdate(denyToolCallUpdate, {
        args: [{ toolUseId: waiting.toolUseId, by: 'bob', reason: 'too risky' }],
      });
      expect((await reply).reply.content).toContain('denied');
      const [call] = await calls(id);
      expect(call).toMatchObject({ outcome: 'denied', isError: true, approval: { decision: 'denied', by: 'bob' } });
      expect(toolLog(logFile).some((l) => l.toolUseId === call!.toolUseId)).toBe(false);
    });

    it('times out an undecided call and tells the model', async () => {
      const { id, reply } = await askToDelete();
      await pending(id);
      expect((await reply).reply.content).toContain('Nobody approved');
      const [call] = await calls(id);
      expect(call).toMatchObject({ outcome: 'approval_timeout', approval: { decision: 'timeout' } });
    });
  });

  it('search_memory finds an old fact the window no longer holds', async () => {
    const id = await start(['search_memory']);
    await send(id, 'my favourite colour is teal');
    for (let i = 0; i < 12; i++) await send(id, `filler message number ${i} about nothing much`);
    const result = await send(id, 'Do you remember what is my favourite colour?');
    expect(result.reply.content).toBe('Your favourite colour is teal.');
    const [call] = await calls(id);
    expect(call).toMatchObject({ tool: 'search_memory', outcome: 'ok' });
    // Dated or sourced: a fact names the message it came from.
    expect(call!.result).toMatch(
      /\[(fact · .*source: \S+|\d{4}-\d\d-\d\d · user · message \S+)\] .*favourite colour is teal/,
    );
    // The window sent to the model did not hold it: only the tool found it.
    const first = (await stack.offline.requests()).filter((r) => r.body.tools).at(-2)!.body;
    const history = first.messages.slice(0, -1);
    expect(JSON.stringify(history)).not.toContain('teal');
  });
});
