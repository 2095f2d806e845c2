/**
 * A worker-only Memoir on the test services whose workflow code is chosen by the caller: the current bundle for
 * capturing histories, a fixture variant for the patching tests. Built from the same blocks as test/helpers/stack.ts
 * (a fresh PostgreSQL database, the offline model over HTTP, its own task queue).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { serve, type Serving } from '../../src/cli/serve';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { eventTypeName, type History } from '../../src/replay/history';
import type { WorkflowSource } from '../../src/runtime/worker';
import { freshDatabase, startOfflineModel, uniqueId, type OfflineHandle } from '../helpers/stack';
import { TEST_SERVICES } from '../helpers/services';

export interface ReplayStack {
  serving: Serving;
  offline: OfflineHandle;
  /** A tenant id of its own, so workflow ids never collide on the shared test server. */
  tenantId: string;
  stop(): Promise<void>;
}

export async function startReplayStack(opts: {
  env?: Record<string, string>;
  workflowSource: WorkflowSource;
}): Promise<ReplayStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-replay-'));
  const database = await freshDatabase();
  const offline = await startOfflineModel();
  try {
    const config = loadConfig({
      MEMOIR_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: TEST_SERVICES.temporalAddress,
      ...(opts.env?.MEMOIR_MASTER_KEYS ? {} : { MEMOIR_PAYLOAD_ENCRYPTION: 'off' }),
      MEMOIR_TASK_QUEUE: uniqueId('replay'),
      MEMOIR_WORKER_VERSIONING: 'off',
      ANTHROPIC_BASE_URL: offline.url,
      ANTHROPIC_API_KEY: 'test-key',
      DATABASE_URL: database.url,
      MEMOIR_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      MEMOIR_METRICS_PORT: '0',
      MEMOIR_TEMPORAL_METRICS_PORT: '0',
      ...opts.env,
    });
    const log = createLogger({ level: config.logLevel, file: path.join(dataDir, 'memoir.log') });
    const serving = await serve(config, log, {
      worker: true,
      api: false,
      progress: () => undefined,
      workflowSource: opts.workflowSource,
    });
    return {
      serving,
      offline,
      tenantId: uniqueId('replay'),
      async stop() {
        await serving.stop();
        await offline.close();
        await database.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await offline.close();
    await database.drop();
    throw err;
  }
}

/** Polls until `probe` gives a value. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A history ending in one of these has work in flight. */
const IN_FLIGHT = new Set([
  'WorkflowTaskScheduled',
  'WorkflowTaskStarted',
  'ActivityTaskScheduled',
  'ActivityTaskStarted',
]);

/**
 * A run's history once nothing is in flight: no workflow task or activity pending, and a moment later nothing was
 * added (an update's completion and the next workflow task can land separately).
 */
export async function settledHistory(client: Client, workflowId: string, runId?: string): Promise<History> {
  const handle = client.workflow.getHandle(workflowId, runId);
  let previous = -1;
  return until(async () => {
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const last = events.at(-1);
    const stable = events.length === previous && last !== undefined && !IN_FLIGHT.has(eventTypeName(last));
    previous = events.length;
    if (!stable) await new Promise((r) => setTimeout(r, 300));
    return stable ? history : undefined;
  }, `a settled history of ${workflowId}`);
}
