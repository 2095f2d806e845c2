/**
 * Proves that a Temporal dev server started the way Memoir starts it (src/temporal/dev-server.ts, flags from
 * temporal-config/dev-server.json) runs with each tuned setting — by behaviour where the server shows it, else by
 * the key being one server 1.29 knows (an unknown key would be ignored silently):
 *
 * - history.{transfer,timer,visibility}ProcessorMaxPollRPS: the workflow task that follows each activity is
 *   handed out in a few milliseconds (at the default 20 polls a second it waits 25 ms on average);
 * - system.enableActivityEagerExecution: the server's `activity_eager_execution` counter grows;
 * - --sqlite-pragma journal_mode=wal: the database file is in WAL mode (synchronous is per connection: not
 *   visible from outside);
 * - every dynamic config key is a registered setting of the server module the CLI was built from.
 *
 * Starts its own file-backed server on spare ports (never the shared test server) and stops it. Run by
 * scripts/check-ops.sh; by hand: `npx tsx scripts/check-temporal-config.ts`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { tsToMs } from '@temporalio/common/lib/time';
import { freePort } from '../src/free-port';
import { eventTypeName } from '../src/replay/history';
import { findTemporalCli, startDevServer } from '../src/temporal/dev-server';

const CONFIG = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'temporal-config', 'dev-server.json'), 'utf8'),
) as { dynamicConfig: Record<string, unknown> };
const ACTIVITIES = 30;
/** Median wait for a workflow task after an activity, in ms: ~25 at the default poll rate, ~1–3 when raised. */
const MAX_MEDIAN_DISPATCH_MS = 10;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** The server module's registered dynamic config keys, from the Go module cache the CLI was built from. */
function registeredKeys(): Set<string> | undefined {
  const gopath = process.env.GOPATH ?? path.join(os.homedir(), 'go');
  const modDir = path.join(gopath, 'pkg', 'mod', 'go.temporal.io');
  const server = fs.existsSync(modDir)
    ? fs
        .readdirSync(modDir)
        .filter((d) => d.startsWith('server@'))
        .sort()
        .at(-1)
    : undefined;
  if (!server) return undefined;
  const source = fs.readFileSync(path.join(modDir, server, 'common', 'dynamicconfig', 'constants.go'), 'utf8');
  return new Set([...source.matchAll(/^\s*"([a-z]+\.[A-Za-z.]+)",$/gm)].map((m) => m[1]!));
}

/** The server's `activity_eager_execution` counter; it reaches /metrics at the reporter's next flush (~1 s). */
async function eagerStarts(metricsPort: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const count = [...metrics.matchAll(/^activity_eager_execution\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    if (count > 0 || Date.now() > deadline) return count;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function run(): Promise<void> {
  const failures: string[] = [];
  const ok = (message: string) => process.stdout.write(`ok    ${message}\n`);
  const fail = (message: string) => {
    failures.push(message);
    process.stdout.write(`FAIL  ${message}\n`);
  };

  const keys = registeredKeys();
  if (!keys) fail('no go.temporal.io/server module in the Go module cache: cannot check the dynamic config keys');
  else {
    const unknown = Object.keys(CONFIG.dynamicConfig).filter((k) => !keys.has(k));
    if (unknown.length) fail(`dynamic config keys the server does not know: ${unknown.join(', ')}`);
    else ok(`all ${Object.keys(CONFIG.dynamicConfig).length} dynamic config keys are registered server settings`);
  }
  if (!findTemporalCli()) throw new Error('no Temporal CLI: run scripts/temporal-cli.sh first');

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-temporal-check-'));
  const [port, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer({ dataDir, port, uiPort, metricsPort, namespace: 'default' });
  try {
    const connection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({
      connection,
      taskQueue: 'probe',
      workflowsPath: require.resolve('./temporal-probe/workflow'),
      activities: { noop: async () => undefined },
    });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const workflowId = `probe-${Date.now()}`;
    await worker.runUntil(
      client.workflow.execute('probeWorkflow', { taskQueue: 'probe', workflowId, args: [ACTIVITIES] }),
    );
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const events = (history.events ?? []).map((e) => ({ type: eventTypeName(e), at: tsToMs(e.eventTime) }));
    const waits: number[] = [];
    events.forEach((e, i) => {
      if (e.type === 'WorkflowTaskStarted' && events[i - 2]?.type === 'ActivityTaskCompleted')
        waits.push(e.at - events[i - 1]!.at);
    });
    const m = median(waits);
    if (waits.length >= ACTIVITIES - 1 && m <= MAX_MEDIAN_DISPATCH_MS)
      ok(`queue readers poll fast: a workflow task follows an activity in ${m} ms (median of ${waits.length})`);
    else fail(`a workflow task follows an activity in ${m} ms (median of ${waits.length}): is the poll rate raised?`);

    const eager = await eagerStarts(metricsPort);
    if (eager > 0) ok(`eager activity execution is on: activity_eager_execution = ${eager}`);
    else fail('activity_eager_execution stayed 0: is system.enableActivityEagerExecution applied?');
    await connection.close();
  } finally {
    await server.stop();
  }
  const db = path.join(dataDir, 'temporal.db');
  const mode = execFileSync('python3', [
    '-c',
    'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("pragma journal_mode").fetchone()[0])',
    db,
  ])
    .toString()
    .trim();
  if (mode === 'wal') ok('the file-backed database runs in WAL mode');
  else fail(`the database's journal mode is ${mode}, not wal: is --sqlite-pragma applied?`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (failures.length) process.exitCode = 1;
}

run().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
