/**
 * A whole Memoir for one test: a fresh PostgreSQL database (or PGlite), its own task queue on the test Temporal
 * server, an offline model on its own port (the real SDK talks to it over HTTP), a worker and the HTTP API.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import weaviate from 'weaviate-client';
import { loadConfig } from '../../src/config';
import { loggerFor } from '../../src/runtime/privacy';
import { createOfflineModel } from '../../src/offline-model/server';
import type { Rule } from '../../src/offline-model/script';
import { serve, type Serving } from '../../src/cli/serve';
import { TEST_SERVICES, WORKFLOW_BUNDLE_PATH } from './services';

export interface StackOptions {
  db?: 'postgres' | 'pglite';
  worker?: boolean;
  api?: boolean;
  /** Extra environment, as a deployment would set it. */
  env?: Record<string, string>;
}

export interface Stack {
  serving: Serving;
  /** The stack's JSON log file (one line per event). */
  logFile: string;
  /** Environment this stack was configured with (a child-process worker can reuse it). */
  env: Record<string, string>;
  databaseUrl: string | undefined;
  /** Two tenants with unique ids (workflow ids on the shared test server never collide between runs). */
  tenants: { acme: Tenant; globex: Tenant };
  offline: OfflineHandle;
  /** Calls the API as tenant `acme` unless another key is given. */
  http(method: string, route: string, body?: unknown, key?: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export interface Tenant {
  id: string;
  key: string;
}

export interface OfflineHandle {
  url: string;
  script(rules: Rule[], extra?: { latencyMs?: number; streamChunkDelayMs?: number }): Promise<void>;
  reset(): Promise<void>;
  /** Ends the wait of the model calls a `hold` rule on this gate stopped (and lets later ones through). */
  release(gate: string): Promise<void>;
  requests(): Promise<{ model: string; status: number; stream: boolean; body: any; usage?: any }[]>;
}

export const uniqueId = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

/** A new, empty PostgreSQL database on the test server; returns its URL and how to drop it. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = uniqueId('memoir_t').replace(/-/g, '_');
  const admin = new pg.Client({ connectionString: TEST_SERVICES.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_SERVICES.databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_SERVICES.databaseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Removes a test's Weaviate collection (each stack has its own). */
export async function dropWeaviateCollection(name: string): Promise<void> {
  const client = await weaviate.connectToLocal({
    host: TEST_SERVICES.weaviate.host,
    port: TEST_SERVICES.weaviate.port,
    grpcPort: TEST_SERVICES.weaviate.grpcPort,
  });
  try {
    await client.collections.delete(name);
  } finally {
    await client.close();
  }
}

export async function startOfflineModel(): Promise<OfflineHandle & { close(): Promise<void> }> {
  const app = createOfflineModel();
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const post = (route: string, body: unknown) =>
    fetch(`${url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return {
    url,
    async script(rules, extra = {}) {
      const res = await post('/_offline/script', { rules, ...extra });
      if (!res.ok) throw new Error(`bad script: ${await res.text()}`);
    },
    async reset() {
      await post('/_offline/reset', {});
    },
    async release(gate) {
      const res = await post('/_offline/release', { gate });
      if (!res.ok) throw new Error(`bad release: ${await res.text()}`);
    },
    async requests() {
      return ((await (await fetch(`${url}/_offline/requests`)).json()) as { requests: never[] }).requests;
    },
    close: () => app.close(),
  };
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-test-'));
  const database = opts.db === 'pglite' ? undefined : await freshDatabase();
  const offline = await startOfflineModel();
  const collection = `Test${randomBytes(6).toString('hex')}`;
  const tenant = (name: string): Tenant => ({
    id: uniqueId(name),
    key: `mk_${name}_${randomBytes(16).toString('hex')}`,
  });
  const tenants = { acme: tenant('acme'), globex: tenant('globex') };
  const env: Record<string, string> = {
    MEMOIR_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: TEST_SERVICES.temporalAddress,
    // The shared test Temporal is external: without keys a server refuses it unless plaintext is said on purpose.
    ...(opts.env?.MEMOIR_MASTER_KEYS || opts.env?.MEMOIR_MASTER_KEY_FILE ? {} : { MEMOIR_PAYLOAD_ENCRYPTION: 'off' }),
    MEMOIR_TASK_QUEUE: uniqueId('test'),
    // Unversioned: a worker deployment per test queue would pile up on the shared server (its versioning has its
    // own test, test/deployment-versioning.test.ts).
    MEMOIR_WORKER_VERSIONING: 'off',
    ANTHROPIC_BASE_URL: offline.url,
    ANTHROPIC_API_KEY: 'test-key',
    MEMOIR_API_PORT: '0',
    MEMOIR_API_KEYS: `${tenants.acme.id}:${tenants.acme.key},${tenants.globex.id}:${tenants.globex.key}`,
    MEMOIR_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    MEMOIR_METRICS_PORT: '0',
    MEMOIR_RATE_LIMIT: '1000000',
    MEMOIR_RATE_BURST: '100000',
    REDIS_URL: TEST_SERVICES.redisUrl,
    ...(opts.db === 'pglite'
      ? {}
      : {
          WEAVIATE_URL: `http://${TEST_SERVICES.weaviate.host}:${TEST_SERVICES.weaviate.port}`,
          WEAVIATE_GRPC_PORT: String(TEST_SERVICES.weaviate.grpcPort),
        }),
    MEMOIR_WEAVIATE_COLLECTION: collection,
    MEMOIR_TEMPORAL_METRICS_PORT: '0',
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...opts.env,
  };
  const config = loadConfig(env);
  const logFile = path.join(dataDir, 'memoir.log');
  const log = loggerFor(config, logFile);
  const serving = await serve(config, log, {
    worker: opts.worker ?? true,
    api: opts.api ?? true,
    progress: () => undefined,
    // Encryption adds a failure converter and tracing adds interceptors to the workflow bundle: such stacks
    // bundle their own.
    ...(env.MEMOIR_MASTER_KEYS || (env.MEMOIR_TRACING ?? 'off') !== 'off'
      ? {}
      : { workflowSource: { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } } }),
  });
  return {
    serving,
    logFile,
    env,
    databaseUrl: database?.url,
    tenants,
    offline,
    async http(method, route, body, key = tenants.acme.key) {
      const res = await fetch(`${serving.api!.url}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      await serving.stop();
      if (env.WEAVIATE_URL) await dropWeaviateCollection(env.MEMOIR_WEAVIATE_COLLECTION!);
      await offline.close();
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
