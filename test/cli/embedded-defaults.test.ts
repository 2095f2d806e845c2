/**
 * The embedded defaults as a new user meets them: `memoir serve` with nothing configured, run as a process.
 * - Histories are encrypted: after a turn, the Temporal store (temporal.db and its journals, read as files) holds
 *   no plaintext of the message; the codec server the embedded UI uses decodes it with the generated key.
 * - The embedded database is shared: while `serve` runs, `show`, `cost` and `ls` in other processes print the
 *   conversation (through the wire-protocol server the owner runs); with `serve` stopped they read the files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { findTemporalCli, startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from '../helpers/processes';
import { memoir, ROOT } from './run-cli';

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const marker = `launch code ${randomBytes(8).toString('hex')}`;
const conversationId = 'secret-trip';

let dir: string;
let env: Record<string, string>;
let devServer: DevServer;
let serve: ChildProcess | undefined;
let banner = '';

/** Starts `memoir serve` and resolves with what it printed once it is running. */
function startServe(): Promise<string> {
  serve = spawn(TSX, [path.join(ROOT, 'src', 'cli', 'main.ts'), 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    serve!.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/HTTP API: .*\n(.*\n)*.*API key/.test(stderr) && stderr.includes('Temporal UI')) resolve(stderr);
    });
    serve!.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
}

async function stopServe(): Promise<void> {
  const child = serve;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-defaults-'));
  const [temporalPort, uiPort, apiPort, codecPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  env = {
    MEMOIR_DATA_DIR: dir,
    MEMOIR_TEMPORAL_PORT: String(temporalPort),
    MEMOIR_TEMPORAL_UI_PORT: String(uiPort),
    MEMOIR_API_PORT: String(apiPort),
    MEMOIR_CODEC_PORT: String(codecPort),
    MEMOIR_METRICS_PORT: '0',
    MEMOIR_TEMPORAL_METRICS_PORT: '0',
  };
  // The test owns the embedded dev server (serve reuses one already listening), so it outlives `serve` for the
  // "nothing else running" checks.
  devServer = await startDevServer({
    cli: findTemporalCli(),
    dataDir: dir,
    port: temporalPort,
    uiPort,
    namespace: 'default',
  });
  banner = await startServe();
}, 300_000);

afterAll(async () => {
  await stopServe();
  await devServer?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('creates an owner-only master key on first start and says where it is', () => {
  const keyFile = path.join(dir, 'master-keys.json');
  expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  expect(banner).toContain(`master key file ${keyFile}`);
  expect(banner).toContain('the embedded Temporal UI shows decoded payloads');
});

describe('after a turn on the defaults', () => {
  let api: string;
  let apiKey: string;
  beforeAll(async () => {
    api = /HTTP API: (\S+)/.exec(banner)![1]!;
    apiKey = /API key \(tenant demo\): (\S+)/.exec(banner)![1]!;
    const call = (route: string, body: unknown) =>
      fetch(`${api}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await call('/v1/conversations', { conversationId, userId: 'ada' })).status).toBe(201);
    const sent = await call(`/v1/conversations/${conversationId}/messages`, { content: `Remember: ${marker}.` });
    expect(sent.status).toBe(200);
  });

  it('leaves no plaintext of the message in the Temporal store files', () => {
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('temporal.db'));
    expect(files).toContain('temporal.db');
    for (const f of files) {
      // A journal comes and goes with each write transaction.
      const bytes = fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f)) : Buffer.alloc(0);
      expect(bytes.includes(marker), f).toBe(false);
    }
  });

  it('decodes through the codec server the embedded UI uses', async () => {
    const connection = await Connection.connect({ address: `127.0.0.1:${env.MEMOIR_TEMPORAL_PORT}` });
    let history: unknown;
    try {
      const res = await connection.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId: `conversation/demo/${conversationId}` },
      });
      history = res.history;
    } finally {
      await connection.close();
    }
    const payloads = collectPayloads(history);
    expect(payloads.length).toBeGreaterThan(0);
    const ui = `http://127.0.0.1:${env.MEMOIR_TEMPORAL_UI_PORT}`;
    const res = await fetch(`http://127.0.0.1:${env.MEMOIR_CODEC_PORT}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ui, 'x-namespace': 'default' },
      body: JSON.stringify({ payloads }),
    });
    expect(res.status).toBe(200);
    const decoded = ((await res.json()) as { payloads: { data: string }[] }).payloads;
    expect(
      decoded.some((p) =>
        Buffer.from(p.data ?? '', 'base64')
          .toString('utf8')
          .includes(marker),
      ),
    ).toBe(true);
  });

  it('exports the encrypted history and replays it with the same key', async () => {
    const exported = await memoir(['history', 'export', conversationId, '--tenant', 'demo'], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).not.toContain(marker);
    const file = path.join(dir, 'history.json');
    fs.writeFileSync(file, exported.stdout);
    const replayed = await memoir(['replay', '--file', file], env);
    expect(replayed.stderr).toBe('');
    expect(replayed.stdout).toMatch(/^OK: .* replays deterministically/);
    expect(replayed.code, replayed.stderr).toBe(0);
  });

  it('is readable by `show`, `cost` and `ls` in other processes while serve runs, and from the files after', async () => {
    const check = async (phase: string) => {
      const show = await memoir(['show', conversationId, '--tenant', 'demo'], env);
      expect(show.stderr, phase).toBe('');
      expect(show.stdout, phase).toContain(marker);
      const cost = await memoir(['cost', '--json'], env);
      expect(cost.stderr, phase).toBe('');
      expect(JSON.parse(cost.stdout).total.calls, phase).toBeGreaterThan(0);
      // Visibility lags the turn a moment.
      let listed = '';
      for (let i = 0; i < 50 && !listed.includes(conversationId); i++) {
        const ls = await memoir(['ls', '--tenant', 'demo'], env);
        expect(ls.stderr, phase).toBe('');
        listed = ls.stdout;
      }
      expect(listed, phase).toContain(conversationId);
    };
    expect(fs.existsSync(path.join(dir, 'pglite-server.json'))).toBe(true);
    await check('while serve runs');
    // The administration verbs reach it too: keys, and erase (a whole service set beside the running one).
    const keys = await memoir(['keys', 'list'], env);
    expect(keys.stderr).toBe('');
    expect(keys.stdout).toMatch(/key\(s\)/);
    const erase = await memoir(['erase', '--tenant', 'demo', '--conversation', 'no-such-trip', '--json'], env);
    expect(erase.stderr).toBe('');
    expect(erase.code, erase.stderr).toBe(0);
    await stopServe();
    expect(fs.existsSync(path.join(dir, 'pglite-server.json'))).toBe(false);
    await check('with serve stopped');
  });
});

/** Every `{ metadata, data }` payload in a history (as the UI would send them), in the codec server's JSON form. */
function collectPayloads(node: unknown, out: { metadata: Record<string, string>; data: string }[] = []) {
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object') {
      const metadata = Object.fromEntries(
        Object.entries(o.metadata as Record<string, Uint8Array>).map(([k, v]) => [
          k,
          Buffer.from(v).toString('base64'),
        ]),
      );
      out.push({ metadata, data: Buffer.from(o.data).toString('base64') });
    } else for (const v of Object.values(o)) collectPayloads(v, out);
  }
  return out;
}
