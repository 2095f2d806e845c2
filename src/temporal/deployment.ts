/**
 * Worker Deployment Versioning: every worker polls as one version of a deployment (name + build id), and the
 * server sends each workflow task to the deployment's current version. Conversations are AUTO_UPGRADE: they live
 * for months, continue as new every few hundred turns and idle for days, so pinning them to the version that
 * started them would keep every old worker version running for as long as its longest conversation lives. With
 * auto-upgrade, a conversation's next workflow task after a rollout runs the new code, which is why a change to
 * workflow code needs `patched()` and must replay every captured history (test/replay, the gate in CI).
 * docs/operations.md describes a rollout and a rollback.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkflowService } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import type { Logger } from '../log';

/** What a worker's code is; `workflowBundle` when prebuilt (the build id is the bundle's hash). */
type WorkflowCode = Pick<WorkerOptions, 'workflowBundle'> | Pick<WorkerOptions, 'workflowsPath'>;

/** How long a new version waits for the server to see its pollers before `auto` gives up on making it current. */
const PROMOTE_TIMEOUT_MS = 60_000;

const hash = (parts: (string | Buffer)[]) => {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  // 40 bits: enough to tell a fleet's few versions apart, and the id is written into ~6 events a turn.
  return h.digest('hex').slice(0, 10);
};

/**
 * The build id of the workflow code a worker runs: MEMOIR_BUILD_ID, else a hash of the bundle it loads (what
 * `npm run build` records in dist/build-info.json), else — bundling from the sources — a hash of workflows/.
 * Equal code gives an equal id, so restarting workers never makes a new version.
 */
export function buildIdOf(config: Config, code: WorkflowCode): string {
  if (config.temporal.versioning.buildId) return config.temporal.versioning.buildId;
  if ('workflowBundle' in code && code.workflowBundle) {
    const bundle = code.workflowBundle;
    return bundleBuildId('code' in bundle ? bundle.code : fs.readFileSync(bundle.codePath));
  }
  const dir = path.dirname((code as { workflowsPath: string }).workflowsPath);
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.[jt]s$/.test(f))
    .sort();
  return `s-${hash(files.flatMap((f) => [f, fs.readFileSync(path.join(dir, f))]))}`;
}

/**
 * The bundle's build id as `npm run build` records it: `b-` and 10 hex digits (`s-` for code bundled from the
 * sources), short because every workflow task and activity start event carries it.
 */
export const bundleBuildId = (code: string | Buffer) => `b-${hash([code])}`;

/**
 * `Worker.create` options for this worker's version. With versioning off, only the build id: the SDK's default
 * (`@temporalio/worker@<version>+<64 hex>`) is written into every workflow task and activity start event, ~90 B
 * each, about 500 B of history per turn; the short id names the same code.
 */
export function deploymentOptions(
  config: Config,
  code: WorkflowCode,
): { version?: WorkerDeploymentVersion; options: Pick<WorkerOptions, 'workerDeploymentOptions' | 'buildId'> } {
  const { mode, deploymentName } = config.temporal.versioning;
  if (mode === 'off') return { options: { buildId: buildIdOf(config, code) } };
  const version = { deploymentName, buildId: buildIdOf(config, code) };
  return {
    version,
    options: {
      workerDeploymentOptions: { useWorkerVersioning: true, version, defaultVersioningBehavior: 'AUTO_UPGRADE' },
    },
  };
}

/**
 * Makes `version` its deployment's current version (what `temporal worker deployment set-current-version`
 * does), once the server has seen this worker's pollers: until then it refuses (no such deployment or version).
 * Already current: nothing to do.
 */
export async function makeCurrent(
  connection: { readonly workflowService: WorkflowService },
  namespace: string,
  version: WorkerDeploymentVersion,
  log: Logger,
): Promise<void> {
  const service = connection.workflowService;
  const started = Date.now();
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 2_000)) {
    try {
      const { workerDeploymentInfo } = await service.describeWorkerDeployment({
        namespace,
        deploymentName: version.deploymentName,
      });
      const current = workerDeploymentInfo?.routingConfig?.currentDeploymentVersion;
      if (current?.buildId === version.buildId) return;
      await service.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: `memoir worker ${process.pid}`,
      });
      log.info({ ...version, previous: current?.buildId ?? null }, 'this worker version is now current');
      return;
    } catch (err) {
      // NOT_FOUND / FAILED_PRECONDITION while the server has not yet registered this version's pollers.
      const code = (err as { code?: unknown }).code;
      if ((code !== 5 && code !== 9) || Date.now() - started > PROMOTE_TIMEOUT_MS) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
