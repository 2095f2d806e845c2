/**
 * How the client maps what the Temporal server answers, on the real dev server. A conversation whose workflow task
 * is being retried (its worker was killed or starved past the task timeout) refuses updates with "Workflow Task in
 * failed state" once the task has failed a few times; that passes when a worker completes the task, so a client
 * must be told to retry (503), not shown a 500 — the worker-kill chaos run saw 19 such 500s.
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { MemoirError, toMemoirError } from '../../src/client/errors';
import { waitUntil } from '../reliability/driver';
import { TEST_SERVICES } from '../helpers/services';
import { uniqueId } from '../helpers/stack';
import { failingTasksWorkflow, pingUpdate } from './failing-workflow';

const quiet = () => undefined;

it('an update refused because the workflow task is failing maps to 503 unavailable (retry), not a 500', async () => {
  const taskQueue = uniqueId('failing-tasks');
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'failing-workflow.ts'),
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error },
  });
  const workerConnection = await NativeConnection.connect({ address: TEST_SERVICES.temporalAddress });
  const worker = await Worker.create({ connection: workerConnection, taskQueue, workflowBundle });
  const running = worker.run();
  const connection = await Connection.connect({ address: TEST_SERVICES.temporalAddress });
  const client = new Client({ connection });
  const handle = await client.workflow.start(failingTasksWorkflow, { taskQueue, workflowId: uniqueId('failing') });
  try {
    // The server refuses updates once the task has failed this often (history service: failed-state check).
    const failing = await waitUntil(async () => {
      const d = await handle.describe();
      return (d.raw.pendingWorkflowTask?.attempt ?? 0) >= 3;
    }, 60_000);
    expect(failing).toBe(true);
    const err = await handle.executeUpdate(pingUpdate).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String((err as Error | undefined)?.cause ?? err)).toMatch(/Workflow Task in failed state/);
    const mapped = toMemoirError(err);
    expect(mapped).toBeInstanceOf(MemoirError);
    expect({ code: (mapped as MemoirError).code, status: (mapped as MemoirError).status }).toEqual({
      code: 'unavailable',
      status: 503,
    });
  } finally {
    await handle.terminate().catch(() => undefined);
    worker.shutdown();
    await running;
    await workerConnection.close();
    await connection.close();
  }
});
