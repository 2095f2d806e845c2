/**
 * Worker start-up time: from spawning `memoir worker` to its "memoir is running" line, against the test services
 * (scripts/services.sh), on a task queue of its own so it takes no one else's work. Runs the command given (the
 * compiled CLI by default) a few times and prints each figure and the median.
 *
 *   npx tsx bench/worker-startup.ts [--runs 3] [--] [command ...]   e.g. -- npx tsx src/cli/main.ts
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
const dash = args.indexOf('--');
const command = dash >= 0 ? args.slice(dash + 1) : ['node', path.join(ROOT, 'bin', 'memoir.js')];

function once(): Promise<number> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-startup-'));
  const started = process.hrtime.bigint();
  const child = spawn(command[0]!, [...command.slice(1), 'worker'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:57233',
      DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://memoir@127.0.0.1:55432/postgres',
      MEMOIR_TASK_QUEUE: `startup-probe-${process.pid}`,
      MEMOIR_DATA_DIR: dataDir,
      MEMOIR_METRICS_PORT: '0',
      MEMOIR_LOG_LEVEL: 'warn',
      // The test services' Temporal is external: without keys the worker refuses plaintext unless told.
      MEMOIR_PAYLOAD_ENCRYPTION: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let ms: number | undefined;
  return new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (ms === undefined && output.includes('memoir is running')) {
        ms = Number(process.hrtime.bigint() - started) / 1e6;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('close', (code) =>
      ms === undefined ? reject(new Error(`worker exited (${code}) before running:\n${output}`)) : resolve(ms),
    );
  }).finally(() => fs.rmSync(dataDir, { recursive: true, force: true }));
}

async function main(): Promise<void> {
  const figures: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ms = await once();
    figures.push(ms);
    console.log(`run ${i + 1}: ${Math.round(ms)} ms`);
  }
  const sorted = [...figures].sort((a, b) => a - b);
  console.log(`median of ${runs}: ${Math.round(sorted[Math.floor(runs / 2)]!)} ms (${command.join(' ')} worker)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
