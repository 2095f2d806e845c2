/**
 * A Memoir deployment for one benchmark suite, on the real local services (scripts/services.sh): a fresh PostgreSQL
 * database, its own task queue on the Temporal dev server, Redis, and two child processes — the worker and the HTTP
 * API, as `memoir worker` and `memoir api` would run — so that each one's resident memory can be read on its own.
 * The offline model and the load generator stay in the benchmark's process.
 */
import { httpCaller, type HttpCall } from './http';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflows as bundleWorkflowCode } from '../../src/temporal/bundle';
import pg from 'pg';
import { MemoirClient } from '../../src/client/memoir-client';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { storedReplies, type StoredReplies } from '../../src/runtime/stored-replies';
import { openPostgres, type Db } from '../../src/storage/db';
import type { TurnResult } from '../../workflows/contract';
import { dropWeaviateCollection, freshDatabase, uniqueId } from '../../test/helpers/stack';
import { TEST_SERVICES } from '../../test/helpers/services';
import type { ChildMemory, ChildReady } from './child';
import type { BenchInfra } from './infra';

const ROOT = path.join(__dirname, '..', '..');
export const BUNDLE_PATH = path.join(ROOT, '.data', 'bench', 'workflow-bundle.js');

export interface MemoirProcess {
  role: string;
  pid: number;
  ready: ChildReady;
  /** Resident set size now, from /proc (bytes). */
  rss(): number;
  /** CPU time the process has used so far, user + system, from /proc (ms). */
  cpuMs(): number;
  /** Memory after a forced GC, as the process reports it. */
  memory(): Promise<ChildMemory>;
  stop(): Promise<void>;
}

export interface BenchStack {
  apiUrl: string;
  tenantId: string;
  key: string;
  taskQueue: string;
  env: Record<string, string>;
  worker: MemoirProcess;
  api: MemoirProcess;
  temporal: Client;
  /**
   * The in-process client: a `MemoirClient` on the runner's own Temporal connection, as an application that embeds
   * the library runs it (no HTTP hop, no API process: the turn is an update-with-start from this process), with
   * database access as `createMemoirClient` has it on PostgreSQL (reply on commit).
   */
  memoir: MemoirClient;
  /** Calls the API; `ms` is the client-side round trip. */
  http: HttpCall;
  /** Sends one message through the in-process client; `ms` is the round trip. */
  inProcess(conversationId: string, content: string, messageId: string): Promise<{ result: TurnResult; ms: number }>;
  /** Text of a process's /metrics. */
  metrics(which: 'worker' | 'api'): Promise<string>;
  /** Every model call of a conversation by turn and purpose, from the `llm_calls` ledger (successful calls). */
  ledger(conversationId: string): Promise<LedgerRow[]>;
  /** Waits (bounded) until the conversation has no queued message and no memory upkeep running. */
  settled(conversationId: string, maxMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface LedgerRow {
  turn: number;
  purpose: string;
  model: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** The part of cacheWrite written with the 1-hour TTL (priced higher). */
  cacheWrite1h: number;
  costUsd: number;
}

/** Settings a user may set for the benchmark's Memoir processes (MEMOIR_*, REDIS_URL, WEAVIATE_*...). */
export function forwardedEnv(): Record<string, string> {
  const keep = /^(MEMOIR_|WEAVIATE_|VOYAGE_|EMBEDDINGS?_|OPENAI_)/;
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => keep.test(e[0]) && e[1] !== undefined),
  );
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2_000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Fails with one clear message naming every service that is down. */
export async function checkServices(): Promise<void> {
  const pg = new URL(TEST_SERVICES.databaseUrl);
  const redis = new URL(TEST_SERVICES.redisUrl);
  const [tHost, tPort] = TEST_SERVICES.temporalAddress.split(':');
  const needed: [string, string, number][] = [
    ['PostgreSQL', pg.hostname, Number(pg.port)],
    ['Redis', redis.hostname, Number(redis.port)],
    ['Temporal', tHost!, Number(tPort)],
    ['Weaviate', TEST_SERVICES.weaviate.host, TEST_SERVICES.weaviate.port],
  ];
  const down: string[] = [];
  for (const [name, host, port] of needed) if (!(await reachable(host, port))) down.push(`${name} (${host}:${port})`);
  if (down.length > 0) throw new Error(`services are down: ${down.join(', ')}. Run scripts/services.sh start.`);
}

/** Bundles the workflow code once per benchmark run (the children load it instead of bundling each). */
export async function bundleWorkflows(): Promise<string> {
  const code = await bundleWorkflowCode();
  fs.mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
  fs.writeFileSync(BUNDLE_PATH, code);
  return BUNDLE_PATH;
}

/** BENCH_NODE_ARGS: extra Node flags for the children, e.g. `--cpu-prof --cpu-prof-dir=DIR` (refused in NODE_OPTIONS). */
const nodeArgs = (env: Record<string, string>) =>
  (env.BENCH_NODE_ARGS ?? process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

function startProcess(role: 'worker' | 'api', env: Record<string, string>, timeoutMs = 120_000) {
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs(env), '--import', 'tsx', '--expose-gc', path.join(__dirname, 'child.ts'), role],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  return new Promise<MemoirProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${role} did not start in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited (${code}) before it was ready: ${stderr}`));
    });
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{"ready"')) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as ChildReady;
      resolve(processHandle(role, child, ready));
    });
  });
}

function processHandle(role: string, child: ChildProcess, ready: ChildReady): MemoirProcess {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    role,
    pid: child.pid!,
    ready,
    rss() {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
      return Number(kib ?? 0) * 1024;
    },
    cpuMs() {
      // Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks, 100 per second on Linux; the name in
      // field 2 may hold spaces, so count from the closing parenthesis.
      const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    memory() {
      return new Promise<ChildMemory>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${role} did not report its memory`)), 30_000);
        const onMessage = (msg: ChildMemory) => {
          if (msg.type !== 'memory') return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(msg);
        };
        child.on('message', onMessage);
        child.send({ type: 'memory' });
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface StackOptions {
  modelUrl: string;
  bundlePath: string;
  /** Extra environment for both processes (after the forwarded MEMOIR_* settings). */
  env?: Record<string, string>;
  /** Temporal and PostgreSQL to run on (default: the test services). */
  infra?: BenchInfra;
}

export async function startBenchStack(opts: StackOptions): Promise<BenchStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-bench-'));
  const database = await (opts.infra?.createDatabase() ?? freshDatabase());
  const temporalAddress = opts.infra?.temporalAddress ?? TEST_SERVICES.temporalAddress;
  const tenantId = uniqueId('bench');
  const key = `mk_bench_${randomBytes(16).toString('hex')}`;
  const env: Record<string, string> = {
    MEMOIR_LOG_LEVEL: 'info',
    // The benchmark measures the runtime, not the API's per-tenant admission control: one tenant sends it all.
    MEMOIR_RATE_LIMIT: '10000000',
    MEMOIR_RATE_BURST: '1000000',
    ...forwardedEnv(),
    MEMOIR_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: temporalAddress,
    // The shared Temporal is external: plaintext on purpose unless the run brings keys.
    ...(process.env.MEMOIR_MASTER_KEYS || process.env.MEMOIR_MASTER_KEY_FILE
      ? {}
      : { MEMOIR_PAYLOAD_ENCRYPTION: 'off' }),
    MEMOIR_TASK_QUEUE: uniqueId('bench'),
    DATABASE_URL: database.url,
    REDIS_URL: TEST_SERVICES.redisUrl,
    ANTHROPIC_BASE_URL: opts.modelUrl,
    ANTHROPIC_API_KEY: 'bench-key',
    MEMOIR_API_PORT: '0',
    MEMOIR_API_KEYS: `${tenantId}:${key}`,
    MEMOIR_METRICS_PORT: '0',
    MEMOIR_TEMPORAL_METRICS_PORT: '0',
    // Semantic recall on the local Weaviate, in a collection of this stack's own (dropped at the end).
    WEAVIATE_URL: `http://${TEST_SERVICES.weaviate.host}:${TEST_SERVICES.weaviate.port}`,
    WEAVIATE_GRPC_PORT: String(TEST_SERVICES.weaviate.grpcPort),
    MEMOIR_WEAVIATE_COLLECTION: `Bench${randomBytes(6).toString('hex')}`,
    BENCH_BUNDLE: opts.bundlePath,
    ...opts.env,
  };
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // An idle connection cut when the database is dropped must not take the runner down.
  pool.on('error', () => undefined);
  const started: MemoirProcess[] = [];
  let connection: Connection | undefined;
  let clientDb: Db | undefined;
  let replies: StoredReplies | undefined;
  try {
    // One after the other: the worker migrates the fresh database and creates what the processes share in the data
    // directory (e.g. the redaction key), which two processes starting at once would race to create.
    const worker = await startProcess('worker', env);
    started.push(worker);
    const api = await startProcess('api', env);
    started.push(api);
    connection = await Connection.connect({ address: temporalAddress });
    const temporal = new Client({ connection });
    // Payloads are plaintext in the benchmark (see MEMOIR_PAYLOAD_ENCRYPTION above) unless the run brings keys,
    // which an in-process client would need too: then only the HTTP figures are meaningful.
    // With the policy the API starts conversations with (MEMOIR_* settings such as MEMOIR_MODEL_CALL apply to both).
    // Like the API's, and like the LangGraph peer's graph with its checkpointer: with database access, so a turn is
    // answered as soon as it is stored (reply on commit, unless MEMOIR_REPLY_ON_COMMIT=off).
    const config = loadConfig({ ...process.env, ...env });
    clientDb = openPostgres(database.url, 2);
    replies = await storedReplies(config, clientDb, createLogger({ level: 'warn' }));
    const memoir = new MemoirClient({
      client: temporal,
      taskQueue: env.MEMOIR_TASK_QUEUE!,
      policy: config.policy,
      ...replies.options,
    });
    const apiUrl = api.ready.apiUrl!;
    const conn = connection;
    const stack: BenchStack = {
      apiUrl,
      tenantId,
      key,
      taskQueue: env.MEMOIR_TASK_QUEUE!,
      env,
      worker,
      api,
      temporal,
      memoir,
      async inProcess(conversationId, content, messageId) {
        const t0 = performance.now();
        const result = await memoir.sendMessage(tenantId, conversationId, { content, messageId });
        return { result, ms: performance.now() - t0 };
      },
      http: httpCaller(apiUrl, key),
      async metrics(which) {
        const url = (which === 'worker' ? worker : api).ready.metricsUrl!;
        return (await fetch(url)).text();
      },
      async ledger(conversationId) {
        const { rows } = await pool.query<Record<string, string | number>>(
          `SELECT turn, purpose, model, sum(input_tokens) AS input, sum(output_tokens) AS output,
                  sum(cache_read_tokens) AS cache_read, sum(cache_write_5m_tokens + cache_write_1h_tokens) AS cache_write,
                  sum(cache_write_1h_tokens) AS cache_write_1h, sum(cost_usd) AS cost
             FROM llm_calls WHERE tenant_id = $1 AND conversation_id = $2 AND outcome = 'ok'
            GROUP BY turn, purpose, model ORDER BY turn, purpose`,
          [tenantId, conversationId],
        );
        return rows.map((r) => ({
          turn: Number(r.turn),
          purpose: String(r.purpose),
          model: String(r.model),
          input: Number(r.input),
          output: Number(r.output),
          cacheRead: Number(r.cache_read),
          cacheWrite: Number(r.cache_write),
          cacheWrite1h: Number(r.cache_write_1h),
          costUsd: Number(r.cost),
        }));
      },
      async settled(conversationId, maxMs = 120_000) {
        const until = Date.now() + maxMs;
        while (Date.now() < until) {
          const res = await stack.http('GET', `/v1/conversations/${conversationId}`);
          if (res.status === 200 && !res.body.upkeepRunning && !res.body.pendingMessages) return true;
          await new Promise((r) => setTimeout(r, 250));
        }
        return false;
      },
      async stop() {
        await api.stop();
        await worker.stop();
        await conn.close();
        await replies?.close();
        await clientDb?.close();
        await pool.end();
        await dropWeaviateCollection(env.MEMOIR_WEAVIATE_COLLECTION!).catch(() => undefined);
        await database.drop().catch(() => undefined);
        // BENCH_KEEP_LOGS=1 keeps the processes' logs (api.log, worker.log) to read after a failed run.
        if (process.env.BENCH_KEEP_LOGS === '1') process.stderr.write(`bench: logs kept in ${dataDir}\n`);
        else fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (err) {
    for (const p of started.reverse()) await p.stop().catch(() => undefined);
    await connection?.close();
    await replies?.close();
    await clientDb?.close();
    await pool.end();
    await database.drop().catch(() => undefined);
    throw err;
  }
}
