/**
 * The inspection verbs end to end: the real CLI in a child process against a whole stack (real Temporal, real
 * PostgreSQL, the offline model over HTTP), checking what each prints, its exit code, and that `rerun` writes
 * nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPglite } from '../../src/storage/db';
import { startStack, type Stack } from '../helpers/stack';
import { memoir } from './run-cli';

let stack: Stack;
let tenant: string;
let dir: string;

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function counts(): Promise<Record<string, number>> {
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    const out: Record<string, number> = {};
    for (const table of ['messages', 'llm_calls', 'context_manifests', 'conversations']) {
      out[table] = Number((await db.query(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0].n);
    }
    return out;
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  stack = await startStack();
  tenant = stack.tenants.acme.id;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-cli-'));
  expect((await stack.http('POST', '/v1/conversations', { conversationId: 'trip', userId: 'ada' })).status).toBe(201);
  for (const [messageId, content] of [
    ['m-1', 'Hello! My name is Ada.'],
    ['m-2', 'What is my name?'],
  ]) {
    expect((await stack.http('POST', '/v1/conversations/trip/messages', { content, messageId })).status).toBe(200);
  }
  expect((await stack.http('POST', '/v1/conversations', { conversationId: 'chores', userId: 'bob' })).status).toBe(201);
  expect(
    (await stack.http('POST', '/v1/conversations/chores/messages', { content: 'Hi', messageId: 'c-1' })).status,
  ).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('memoir ls', () => {
  it('lists a tenant’s conversations from visibility, with filters', async () => {
    const all = await until(
      async () => JSON.parse((await memoir(['ls', '--tenant', tenant, '--json'], stack.env)).stdout || '[]'),
      (list: any[]) => list.length === 2 && list.every((c) => c.turnCount > 0),
    );
    expect(all.map((c: any) => c.conversationId).sort()).toEqual(['chores', 'trip']);
    expect(all.find((c: any) => c.conversationId === 'trip')).toMatchObject({
      userId: 'ada',
      status: 'active',
    });
    // Published after the first turn, every 10th and when the conversation pauses: the second turn may not show yet.
    expect(all.find((c: any) => c.conversationId === 'trip').turnCount).toBeOneOf([1, 2]);

    const ada = JSON.parse((await memoir(['ls', '--tenant', tenant, '--user', 'ada', '--json'], stack.env)).stdout);
    expect(ada.map((c: any) => c.conversationId)).toEqual(['trip']);
    const ended = await memoir(['ls', '--tenant', tenant, '--status', 'ended'], stack.env);
    expect(ended.stdout).toContain(`No conversations for tenant ${tenant} (status ended)`);
    const pricey = JSON.parse(
      (await memoir(['ls', '--tenant', tenant, '--min-cost', '1000', '--json'], stack.env)).stdout,
    );
    expect(pricey).toEqual([]);

    const text = await memoir(['ls', '--tenant', tenant], stack.env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/CONVERSATION\s+USER\s+STATUS\s+TURNS\s+COST/);
    expect(text.stdout).toMatch(/trip\s+ada\s+active\s+[12]\s+\$0\.\d{6}/);
    expect(text.stdout).toContain(`2 conversations of tenant ${tenant}`);
  });

  it('refuses a bad option with a clear message', async () => {
    const bad = await memoir(['ls', '--tenant', tenant, '--status', 'sleeping'], stack.env);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stderr).toContain('status');
  });
});

describe('memoir show', () => {
  it('prints the state and the messages', async () => {
    const out = await memoir(['show', 'trip', '--tenant', tenant], stack.env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`Conversation trip · tenant ${tenant} · user ada`);
    expect(out.stdout).toContain(`workflow  conversation/${tenant}/trip`);
    expect(out.stdout).toMatch(/status {4}active · 2 turns/);
    expect(out.stdout).toMatch(/#1 user\s+m-1/);
    expect(out.stdout).toMatch(/#4 assistant .* · claude-sonnet-5-5 · reply to m-2/);
    expect(out.stdout).toContain('Your name is Ada.');

    const json = JSON.parse((await memoir(['show', 'trip', '--tenant', tenant, '--json'], stack.env)).stdout);
    expect(json.live).toBe(true);
    expect(json.state.turnCount).toBe(2);
    expect(json.messages.map((m: any) => m.seq)).toEqual([1, 2, 3, 4]);
  });

  it('says when there is no such conversation', async () => {
    const out = await memoir(['show', 'nope', '--tenant', tenant], stack.env);
    expect(out.code, out.stderr).toBe(1);
    expect(out.stderr).toContain('not found');
  });
});

describe('memoir history export and memoir replay', () => {
  it('exports JSON that replays, from the file and from the server', async () => {
    const exported = await memoir(['history', 'export', 'trip', '--tenant', tenant], stack.env);
    expect(exported.code, exported.stderr).toBe(0);
    const history = JSON.parse(exported.stdout);
    expect(history.events[0].eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    const file = path.join(dir, 'trip.json');
    fs.writeFileSync(file, exported.stdout);

    const fromFile = await memoir(['replay', '--file', file], stack.env);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toMatch(
      new RegExp(`^OK: .*trip\\.json replays deterministically \\(${history.events.length} events\\)`),
    );

    const fromServer = await memoir(['replay', `conversation/${tenant}/trip`], stack.env);
    expect(fromServer.code, fromServer.stderr).toBe(0);
    expect(fromServer.stdout).toMatch(new RegExp(`^OK: conversation/${tenant}/trip \\(run [0-9a-f-]+\\) replays`));
  });

  it('exits 3 and names the event and the command when the code has changed', async () => {
    const file = path.join(dir, 'trip.json');
    const out = await memoir(['replay', '--file', file, '--workflows', 'test/replay/fixtures/unpatched.ts'], stack.env);
    expect(out.code, out.stderr).toBe(3);
    // Where it diverges depends on the workflow code of the day; that it names an event and a command does not.
    expect(out.stdout).toMatch(/^NON-DETERMINISTIC: .*trip\.json diverges at event \d+ \([A-Za-z]+\)/);
    expect(out.stdout).toMatch(/history: +[A-Za-z]+/);
    // The extra activity, or a patched() call the history recorded before it (both are the change showing).
    expect(out.stdout).toMatch(/code: +(ScheduleActivityTask|no patched\('[\w-]+'\) call)/);
    expect(out.stdout).toContain('[TMPRL1100]');
  });

  it('exits 1 when there is nothing to replay', async () => {
    const out = await memoir(['replay', `conversation/${tenant}/nope`], stack.env);
    expect(out.code, out.stderr).toBe(1);
    expect(out.stderr).toContain(`no workflow conversation/${tenant}/nope`);
  });
});

describe('memoir rerun', () => {
  it('asks another model with another system prompt on the recorded context, and stores nothing', async () => {
    const before = await counts();
    await stack.offline.reset();
    const systemFile = path.join(dir, 'system.txt');
    fs.writeFileSync(systemFile, 'You are terse. The user is called Ada Lovelace.');

    const out = await memoir(
      ['rerun', 'trip', 'm-2', '--tenant', tenant, '--model', 'claude-haiku-5-5', '--system-file', systemFile],
      stack.env,
    );
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`Rerun of turn 2 (message m-2) of conversation trip · tenant ${tenant}`);
    expect(out.stdout).toMatch(/model\s+claude-sonnet-5-5\s+claude-haiku-5-5/);
    expect(out.stdout).toMatch(/cost\s+\$0\.\d{6}\s+\$0\.\d{6}/);
    expect(out.stdout).toContain('── recorded reply ──\n    Your name is Ada.');

    const requests = await stack.offline.requests();
    expect(requests).toHaveLength(1);
    expect(requests[0]!.model).toBe('claude-haiku-5-5');
    expect(JSON.stringify(requests[0]!.body.system)).toContain('Ada Lovelace');
    // The exact context of turn 2: the first exchange, then the question.
    expect(requests[0]!.body.messages).toHaveLength(3);

    expect(await counts()).toEqual(before);
  });

  it('accepts the id of the reply and prints JSON', async () => {
    const shown = JSON.parse((await memoir(['show', 'trip', '--tenant', tenant, '--json'], stack.env)).stdout);
    const reply = shown.messages.find((m: any) => m.inReplyTo === 'm-1');
    const out = await memoir(['rerun', 'trip', reply.messageId, '--tenant', tenant, '--json'], stack.env);
    expect(out.code, out.stderr).toBe(0);
    const json = JSON.parse(out.stdout);
    expect(json).toMatchObject({ messageId: 'm-1', turn: 1, historyMessages: 0, systemPrompt: 'as recorded' });
    expect(json.recorded.model).toBe('claude-sonnet-5-5');
    expect(json.rerun.model).toBe('claude-sonnet-5-5');
    expect(json.rerun.content).toBe(json.recorded.content);
  });
});

describe('memoir cost', () => {
  it('sums llm_calls by day, tenant and model with a total', async () => {
    const json = JSON.parse((await memoir(['cost', '--tenant', tenant, '--json'], stack.env)).stdout);
    expect(json.rows.length).toBeGreaterThan(0);
    expect(json.rows.every((r: any) => r.tenantId === tenant)).toBe(true);
    expect(json.total.calls).toBe(3);
    expect(json.total.costUsd).toBeGreaterThan(0);

    const text = await memoir(['cost', '--tenant', tenant], stack.env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(`\\d{4}-\\d{2}-\\d{2}\\s+${tenant}\\s+claude-sonnet-5-5\\s+reply\\s+3\\s+0`),
    );
    expect(text.stdout).toMatch(/total \(tenant .*, last 30 days \(UTC\)\): 3 calls \(0 failed\)/);
  });
});

describe('what the verbs refuse to do', () => {
  it('says so when no Temporal server is running, rather than starting one', async () => {
    const out = await memoir(['ls'], { ...stack.env, TEMPORAL_ADDRESS: '', MEMOIR_TEMPORAL_PORT: '1' });
    expect(out.code, out.stderr).toBe(1);
    expect(out.stderr).toContain(
      'no Temporal server is running: TEMPORAL_ADDRESS is unset and nothing listens on 127.0.0.1:1',
    );
  });

  it('does not open an embedded PGlite database another process has open', async () => {
    const dataDir = path.join(dir, 'embedded');
    const env = { ...stack.env, MEMOIR_DATA_DIR: dataDir, DATABASE_URL: '' };
    const db = await openPglite(path.join(dataDir, 'pglite'));
    try {
      const busy = await memoir(['cost'], env);
      expect(busy.code, busy.stderr).toBe(1);
      expect(busy.stderr).toContain(`is open in process ${process.pid}`);
    } finally {
      await db.close();
    }
    const free = await memoir(['cost'], env);
    expect(free.code, free.stderr).toBe(0);
    expect(free.stdout).toContain('No model calls recorded for all tenants');
  });
});
