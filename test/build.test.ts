/**
 * The compiled output (dist/, written by `npm run build`; scripts/setup.sh builds it when stale) is what the
 * `memoir` command, the image and the published package run: its CLI starts without tsx, and its worker loads the
 * prebuilt workflow bundle instead of bundling the workflow code at start-up.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prebuiltBundlePath } from '../src/temporal/bundle-paths';
import { TEST_SERVICES } from './helpers/services';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'memoir.js');
const BASE_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

beforeAll(() => {
  expect(fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js')), 'dist/ is missing: run `npm run build`').toBe(
    true,
  );
});

it('runs the compiled CLI with node alone', () => {
  const run = spawnSync(process.execPath, [BIN, '--help'], { cwd: os.tmpdir(), env: BASE_ENV, encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/^Usage: memoir/);
  expect(run.stdout).toContain('worker');
});

/** Runs `memoir <verb>` from dist/ against the test services until it says it is running; stop() ends it. */
async function startCompiled(verb: string, env: Record<string, string>) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-build-test-'));
  const child = spawn(process.execPath, [BIN, verb], {
    cwd: dataDir,
    env: {
      ...BASE_ENV,
      TEMPORAL_ADDRESS: TEST_SERVICES.temporalAddress,
      DATABASE_URL: TEST_SERVICES.databaseUrl,
      // A task queue of its own: this worker must take no other test's work.
      MEMOIR_TASK_QUEUE: `build-test-${randomBytes(4).toString('hex')}`,
      MEMOIR_DATA_DIR: dataDir,
      MEMOIR_METRICS_PORT: '0',
      MEMOIR_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('memoir is running')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`memoir ${verb} exited (${code}) before running:\n${output}`)));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { output: () => output, stop };
}

it('starts a compiled worker on the prebuilt workflow bundle', async () => {
  // The plain bundle: plaintext payloads, said explicitly (an external Temporal without keys is otherwise refused).
  const worker = await startCompiled('worker', { MEMOIR_PAYLOAD_ENCRYPTION: 'off' });
  try {
    expect(worker.output()).toContain(`loading the prebuilt workflow bundle ${prebuiltBundlePath('plain')}`);
    expect(worker.output()).not.toContain('bundling workflow code');
  } finally {
    await worker.stop();
  }
});

it('serves a turn from the compiled output with payload encryption, on the bundle with the failure converter', async () => {
  const key = `build-test-key-${randomBytes(12).toString('hex')}`;
  const serving = await startCompiled('serve', {
    MEMOIR_MASTER_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    MEMOIR_API_PORT: '0',
    MEMOIR_API_KEYS: `buildtest${randomBytes(4).toString('hex')}:${key}`,
  });
  try {
    expect(serving.output()).toContain(`loading the prebuilt workflow bundle ${prebuiltBundlePath('encrypted')}`);
    const url = /HTTP API: (\S+)/.exec(serving.output())![1]!;
    const res = await fetch(`${url}/v1/conversations/c-1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Hello from the compiled build', userId: 'ada' }),
    });
    const body = (await res.json()) as { reply?: { content: string } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.reply?.content).toContain('Hello from the compiled build');
  } finally {
    await serving.stop();
  }
});
