/**
 * A stack for a crash test: the real services, a model server that counts the calls in flight, and one worker in a
 * child process the test can SIGKILL and start again (no in-process worker, so the child is the only one polling).
 * Registers its own `beforeAll`/`afterAll`; read the fields inside the tests.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startTrackedModel, type TrackedModel } from '../reliability/tracked-model';
import { startStack, type Stack } from './stack';
import { WorkerProcess } from './worker-process';

export interface KillableWorkerStack {
  stack: Stack;
  model: TrackedModel;
  worker: WorkerProcess;
}

export function useKillableWorkerStack(env: Record<string, string>): KillableWorkerStack {
  const ctx = {} as KillableWorkerStack;
  beforeAll(async () => {
    ctx.model = await startTrackedModel();
    ctx.stack = await startStack({ worker: false, api: false, env: { ...env, ANTHROPIC_BASE_URL: ctx.model.url } });
    ctx.worker = new WorkerProcess({
      env: ctx.stack.env,
      logFile: path.join(path.dirname(ctx.stack.logFile), 'worker.out'),
    });
    await ctx.worker.start();
  }, 180_000);
  afterAll(async () => {
    await ctx.worker?.stop();
    await ctx.stack?.stop();
    await ctx.model?.close();
  });
  return ctx;
}
