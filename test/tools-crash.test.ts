/**
 * A worker SIGKILLed while a tool runs (a real `memoir worker` child process): an idempotent tool runs again on the
 * next worker with the same idempotency key; a non-idempotent one is not run again, and the model is told.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ToolLogLine } from './fixtures/test-tools';
import { startStack, uniqueId, type Stack } from './helpers/stack';
import { WorkerProcess } from './helpers/worker-process';

const TOOLS_MODULE = path.join(__dirname, 'fixtures', 'test-tools.ts');

let stack: Stack;
let worker: WorkerProcess;
let logFile: string;
let dir: string;

const starts = (tool: string): ToolLogLine[] =>
  fs.existsSync(logFile)
    ? fs
        .readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ToolLogLine)
        .filter((l) => l.tool === tool && l.event === 'start')
    : [];

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  stack = await startStack({ worker: false, api: false, env: { MEMOIR_TOOLS_MODULE: TOOLS_MODULE } });
  dir = path.dirname(stack.logFile);
  logFile = path.join(dir, 'tool-calls.jsonl');
  process.env.MEMOIR_TEST_TOOL_LOG = logFile;
  worker = new WorkerProcess({
    env: { ...stack.env, MEMOIR_TEST_TOOL_LOG: logFile },
    logFile: path.join(dir, 'worker.out'),
  });
  await worker.start();
}, 180_000);
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

async function converse(tool: string, input: Record<string, unknown>) {
  const { memoir } = stack.serving.services;
  const tenant = stack.tenants.acme.id;
  const conversationId = uniqueId('crash');
  await memoir.startConversation(tenant, { conversationId, userId: 'u1', tools: [tool] });
  await stack.offline.script([
    { afterToolResults: false, times: 1, action: { kind: 'tool_use', calls: [{ name: tool, input }] } },
  ]);
  const reply = memoir.sendMessage(tenant, conversationId, { content: `please run ${tool}` });
  reply.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
  return { conversationId, reply };
}

it('re-runs an idempotent tool after a crash with the same idempotency key', async () => {
  const gate = path.join(dir, 'gate-sync');
  const { conversationId, reply } = await converse('gated_sync', { gate });
  await until(() => starts('gated_sync').length === 1, 'the tool to start');
  await worker.kill();
  await worker.start();
  await until(() => starts('gated_sync').length === 2, 'the tool to start again on the new worker', 90_000);
  fs.writeFileSync(gate, 'go');
  const result = await reply;
  expect(result.reply.content).toContain('synced');

  const runs = starts('gated_sync');
  expect(new Set(runs.map((r) => r.pid)).size).toBe(2);
  const [call] = await stack.serving.services.tools.calls.list(stack.tenants.acme.id, conversationId);
  expect(runs.map((r) => r.toolUseId)).toEqual([call!.toolUseId, call!.toolUseId]);
  expect(call).toMatchObject({ outcome: 'ok', attempts: 2 });
}, 180_000);

it('does not re-run a non-idempotent tool after a crash, and tells the model', async () => {
  const gate = path.join(dir, 'gate-charge'); // never opened: the first run dies waiting
  const { conversationId, reply } = await converse('charge_card', { amount: 42, gate });
  await until(() => starts('charge_card').length === 1, 'the tool to start');
  await worker.kill();
  await worker.start();
  const result = await reply;
  expect(starts('charge_card')).toHaveLength(1);
  expect(result.reply.content).toContain('not run again');
  const [call] = await stack.serving.services.tools.calls.list(stack.tenants.acme.id, conversationId);
  expect(call).toMatchObject({ outcome: 'not_rerun', isError: true });
}, 180_000);
