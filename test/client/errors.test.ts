/**
 * How the client maps what the Temporal server answers, on the real dev server. A conversation whose workflow task
 * is being retried (its worker was killed or starved past the task timeout) refuses updates with "Workflow Task in
 * failed state" once the task has failed a few times; that passes when a worker completes the task, so a client
 * must be told to retry (503), not shown a 500 — the worker-kill chaos run saw 19 such 500s. A task that fails on
 * non-determinism (a workflow change deployed without `patched()`) never passes: that one is a 500 `workflow_broken`.
 */
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { MemoirError } from '../../src/client/errors';
import { explainedError } from '../../src/client/failing-task';
import { waitUntil } from '../reliability/driver';
import { TEST_SERVICES } from '../helpers/services';
import { uniqueId } from '../helpers/stack';
import { changingWorkflow } from './changing-workflow-v1';
import { failingTasksWorkflow, pingUpdate } from './failing-workflow';

const quiet = () => undefined;
const logger = { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet };
const bundle = (file: string) => bundleWorkflowCode({ workflowsPath: path.join(__dirname, file), logger });

/**
 * Waits until the run's workflow task has failed three times (the server then refuses updates: its failed-state
 * check), sends an update, and maps the refusal as the client does.
 */
async function refusedUpdate(client: Client, handle: WorkflowHandle) {
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
  const mapped = await explainedError(client, handle.workflowId, err);
  expect(mapped).toBeInstanceOf(MemoirError);
  return { err, mapped: mapped as MemoirError };
}

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
    const { err, mapped } = await refusedUpdate(client, handle);
    expect({ code: mapped.code, status: mapped.status }).toEqual({
      code: 'unavailable',
      status: 503,
    });
    // The API logs the 503 with what Temporal said, so an operator can tell a refused update from a lost connection.
    expect(mapped.cause).toBe(err);
  } finally {
    await handle.terminate().catch(() => undefined);
    worker.shutdown();
    await running;
    await workerConnection.close();
    await connection.close();
  }
});

it('an update refused because the task fails on non-determinism (a bad deploy) maps to 500 workflow_broken', async () => {
  const taskQueue = uniqueId('changing');
  const [v1, v2] = await Promise.all([bundle('changing-workflow-v1.ts'), bundle('changing-workflow-v2.ts')]);
  const workerConnection = await NativeConnection.connect({ address: TEST_SERVICES.temporalAddress });
  const connection = await Connection.connect({ address: TEST_SERVICES.temporalAddress });
  const client = new Client({ connection });
  const first = await Worker.create({ connection: workerConnection, taskQueue, workflowBundle: v1 });
  const firstRunning = first.run();
  const handle = await client.workflow.start(changingWorkflow, { taskQueue, workflowId: uniqueId('changing') });
  let firstStopped = false;
  let second: Worker | undefined;
  let secondRunning: Promise<void> | undefined;
  try {
    // v1 has started its timer, seen it fire and gone on to wait: that is the history v2 must replay.
    const timerFired = await waitUntil(async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const fired = events.findIndex((e) => e.timerFiredEventAttributes);
      return fired >= 0 && events.slice(fired).some((e) => e.workflowTaskCompletedEventAttributes);
    }, 30_000);
    expect(timerFired).toBe(true);
    first.shutdown();
    await firstRunning;
    firstStopped = true;

    // The bad deploy: v2 takes over the task queue; a signal gives it a task, which replays v1's history and fails.
    second = await Worker.create({ connection: workerConnection, taskQueue, workflowBundle: v2 });
    secondRunning = second.run();
    await handle.signal('nudge');
    const { mapped } = await refusedUpdate(client, handle);
    expect({ code: mapped.code, status: mapped.status }).toEqual({
      code: 'workflow_broken',
      status: 500,
    });
    expect(mapped.message).toMatch(/non-determinism.*roll the deploy back or reset/);
  } finally {
    await handle.terminate().catch(() => undefined);
    if (!firstStopped) first.shutdown();
    second?.shutdown();
    await Promise.allSettled([firstRunning, secondRunning]);
    await workerConnection.close();
    await connection.close();
  }
});
