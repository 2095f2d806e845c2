/**
 * Worker Deployment Versioning on the real dev server: a conversation started on version A keeps answering while
 * a version B worker, with a changed workflow (`patched()`), becomes current and takes the conversation over — its
 * next turn runs B's code, auto-upgraded — and every committed history still replays against B's bundle.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { decodeVersioningBehavior } from '@temporalio/common';
import { MemoirClient } from '../src/client/memoir-client';
import { createLogger } from '../src/log';
import { describeOutcome, replayHistory } from '../src/replay/replay';
import { startWorker, type RunningWorker } from '../src/runtime/worker';
import { bundleBuildId, makeCurrent } from '../src/temporal/deployment';
import { WORKFLOWS_ENTRY } from '../src/temporal/bundle-paths';
import { installTemporalRuntime } from '../src/temporal/runtime';
import { committedHistories } from './replay/histories';
import { TEST_SERVICES, WORKFLOW_BUNDLE_PATH } from './helpers/services';
import { startStack, uniqueId, type Stack } from './helpers/stack';
import { historyAfterTurns } from './helpers/turn-history';

const PATCH = 'deployment-test-change';
/** Version B's change, made by a webpack loader on a copy of the sources: A is the bundle that ships. */
const ANCHOR = 'const ticket = enqueue(';
const CHANGE = `if (wf.patched(${JSON.stringify(PATCH)})) wf.log.info('answered by version B');\n      ${ANCHOR}`;

async function bundleVersionB(dir: string): Promise<string> {
  const loader = path.join(dir, 'version-b-loader.js');
  fs.writeFileSync(
    loader,
    `module.exports = function (source) {
       if (!source.includes(${JSON.stringify(ANCHOR)})) throw new Error('version B: anchor not found in conversation.ts');
       return source.replace(${JSON.stringify(ANCHOR)}, ${JSON.stringify(CHANGE)});
     };`,
  );
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_ENTRY,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error },
    webpackConfigHook: (config) => {
      config.module?.rules?.unshift({ test: /workflows[\\/]conversation\.ts$/, enforce: 'pre', loader });
      return config;
    },
  });
  return code;
}

let stack: Stack;
let connection: Connection;
let client: Client;
let workerB: RunningWorker | undefined;
let tmp: string;
const deploymentName = uniqueId('deploy-test');

beforeAll(async () => {
  installTemporalRuntime(createLogger({ level: 'error' }));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-versioning-'));
  stack = await startStack({
    api: false,
    env: { MEMOIR_WORKER_VERSIONING: 'auto', MEMOIR_DEPLOYMENT_NAME: deploymentName },
  });
  connection = await Connection.connect({ address: TEST_SERVICES.temporalAddress });
  client = new Client({ connection });
});
afterAll(async () => {
  await workerB?.stop();
  await connection?.close();
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const deploymentOf = async (workflowId: string) => {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  const info = raw.workflowExecutionInfo?.versioningInfo;
  return { behavior: decodeVersioningBehavior(info?.behavior), buildId: info?.deploymentVersion?.buildId };
};

it('moves a running conversation from version A to version B without breaking it', async () => {
  const codeB = bundleVersionB(tmp);
  const memoir = new MemoirClient({ client, taskQueue: stack.env.MEMOIR_TASK_QUEUE! });
  const tenant = stack.tenants.acme.id;
  const versionA = bundleBuildId(fs.readFileSync(WORKFLOW_BUNDLE_PATH));

  const first = await memoir.sendMessage(tenant, 'c-1', { content: 'My name is Ada. Hello!', userId: 'ada' });
  expect(first.reply.degraded).toBe(false);
  const workflowId = `conversation/${tenant}/c-1`;
  expect(await deploymentOf(workflowId)).toEqual({ behavior: 'AUTO_UPGRADE', buildId: versionA });

  // Version B starts beside A (a rollout) and, with MEMOIR_WORKER_VERSIONING=auto, makes itself current.
  const code = await codeB;
  workerB = await startWorker(stack.serving.services, { workflowBundle: { code } });
  const versionB = bundleBuildId(code);
  expect(versionB).not.toBe(versionA);

  const second = await memoir.sendMessage(tenant, 'c-1', { content: 'What is my name?' });
  expect(second.reply.content).toBe('Your name is Ada.');
  expect(await deploymentOf(workflowId)).toEqual({ behavior: 'AUTO_UPGRADE', buildId: versionB });
  // B's code ran this conversation's turn: its patch marker is in the history A started.
  const history = await historyAfterTurns(client.workflow.getHandle(workflowId));
  expect(JSON.stringify(history.events?.filter((e) => e.markerRecordedEventAttributes))).toContain(
    Buffer.from(JSON.stringify(PATCH)).toString('base64'),
  );
  // That history, half A and half B, replays against B; so does every committed one (the gate CI runs on A).
  for (const [name, h] of [
    ['c-1', history] as const,
    ...committedHistories().map((c) => [c.name, c.history] as const),
  ]) {
    const outcome = await replayHistory(h, { source: { workflowBundle: { code } }, workflowId });
    expect(outcome.ok, describeOutcome(outcome, name)).toBe(true);
  }
});

it('in manual mode leaves making a new version current to the operator', async () => {
  const name = uniqueId('deploy-manual');
  const manual = await startStack({
    api: false,
    env: { MEMOIR_WORKER_VERSIONING: 'manual', MEMOIR_DEPLOYMENT_NAME: name },
  });
  try {
    const version = { deploymentName: name, buildId: bundleBuildId(fs.readFileSync(WORKFLOW_BUNDLE_PATH)) };
    // The worker polls as its version (the server knows it), and nothing made it current.
    const service = connection.workflowService;
    let info;
    for (;;) {
      info = await service
        .describeWorkerDeployment({ namespace: 'default', deploymentName: name })
        .then((r) => r.workerDeploymentInfo)
        .catch(() => undefined);
      if (info?.versionSummaries?.some((v) => v.deploymentVersion?.buildId === version.buildId)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(info?.routingConfig?.currentDeploymentVersion?.buildId ?? null).toBeNull();
    // What the operator's `temporal worker deployment set-current-version` does; then conversations are served.
    await makeCurrent(connection, 'default', version, manual.serving.services.log);
    const memoir = new MemoirClient({ client, taskQueue: manual.env.MEMOIR_TASK_QUEUE! });
    const turn = await memoir.sendMessage(manual.tenants.acme.id, 'c-1', { content: 'Hello after promotion' });
    expect(turn.reply.content).toContain('Hello after promotion');
  } finally {
    await manual.stop();
  }
});
