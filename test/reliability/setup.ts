/**
 * The Memoir a scenario runs against: the test stack (fresh database, own task queue, the HTTP API) with its
 * worker either in the test process or in a child process that can be killed, and an HTTP client for its API.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startStack, uniqueId, type Stack, type StackOptions } from '../helpers/stack';
import { WorkerProcess } from '../helpers/worker-process';
import type { Sender, SendResult } from './driver';
import { httpSender } from './http-sender';

/** Worker logs of the scenarios, kept after the run for a look when a verdict fails. */
export const LOG_DIR = path.join(__dirname, '..', '..', '.data', 'reliability');

export interface ScenarioStack {
  stack: Stack;
  tenantId: string;
  /** The child worker, when the scenario asked for one. */
  worker: WorkerProcess | undefined;
  sender: Sender;
  /** The distinct errors behind the API's 500 answers so far (from its log), with counts. */
  serverErrors(): string[];
  stop(): Promise<void>;
}

export interface ScenarioStackOptions {
  name: string;
  env?: Record<string, string>;
  worker: 'in-process' | 'child';
  /** A child worker that exits unasked is started again (and counted), as an orchestrator would. */
  restartOnCrash?: boolean;
  /** How long a synchronous API request waits for its reply before answering 504 (MEMOIR_API_WAIT), ms. */
  apiWaitMs?: number;
  onReplyLatency?: (ms: number) => void;
  onResult?: (ms: number, result: SendResult) => void;
  stackOptions?: Omit<StackOptions, 'env' | 'worker' | 'api'>;
}

export async function scenarioStack(opts: ScenarioStackOptions): Promise<ScenarioStack> {
  const apiWaitMs = opts.apiWaitMs ?? 30_000;
  const stack = await startStack({
    ...opts.stackOptions,
    worker: opts.worker === 'in-process',
    api: true,
    env: {
      MEMOIR_LOG_LEVEL: 'warn',
      MEMOIR_API_WAIT: `${apiWaitMs}ms`,
      // The model call's mode applies to the API (it starts the workflows) and to every worker alike; a stack's
      // configuration is read from its own env, not the process's (`scripts/chaos.ts --model-call local` sets it).
      ...(process.env.MEMOIR_MODEL_CALL ? { MEMOIR_MODEL_CALL: process.env.MEMOIR_MODEL_CALL } : {}),
      ...opts.env,
    },
  });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const logName = uniqueId(opts.name);
  const worker =
    opts.worker === 'child'
      ? new WorkerProcess({
          env: stack.env,
          logFile: path.join(LOG_DIR, `${logName}-worker.log`),
          restartOnCrash: opts.restartOnCrash ?? false,
        })
      : undefined;
  try {
    await worker?.start();
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return {
    stack,
    tenantId: stack.tenants.acme.id,
    worker,
    sender: httpSender({
      baseUrl: stack.serving.api!.url,
      apiKey: stack.tenants.acme.key,
      // Past the API's own wait, so the client sees its 504 rather than cutting the request itself.
      requestTimeoutMs: apiWaitMs + 30_000,
      ...(opts.onReplyLatency ? { onReplyLatency: opts.onReplyLatency } : {}),
      ...(opts.onResult ? { onResult: opts.onResult } : {}),
    }),
    serverErrors: () => serverErrors(stack.logFile),
    async stop() {
      await worker?.stop();
      // The stack removes its data directory: keep its log (API errors, warnings) beside the worker's.
      if (fs.existsSync(stack.logFile)) fs.copyFileSync(stack.logFile, path.join(LOG_DIR, `${logName}-stack.log`));
      await stack.stop();
    },
  };
}

/** Unique conversation ids for a scenario (the shared Temporal server keeps every workflow id it has seen). */
export const conversationIds = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${uniqueId(prefix)}-${i}`);

/** Reads the API's `request failed` log lines; addresses and ports are blanked so equal causes group together. */
function serverErrors(logFile: string): string[] {
  if (!fs.existsSync(logFile)) return [];
  const counts = new Map<string, number>();
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('"request failed"')) continue;
    const entry = JSON.parse(line) as { err?: { message?: string; stack?: string } };
    const where = /at (?:async )?(\S+) \(\/[^)]*\/src\/([^)]+)\)/.exec(entry.err?.stack ?? '');
    const message = (entry.err?.message ?? 'unknown').replace(/\[ip:[0-9a-f]+\]|127\.0\.0\.1|:\d{2,5}/g, '');
    const key = `${message.slice(0, 160)}${where ? ` (from ${where[1]}, src/${where[2]})` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `API answered 500 ${n} × for: ${k}`);
}
