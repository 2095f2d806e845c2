/**
 * The Temporal worker: conversation workflows and their activities on one task queue.
 */
import fs from 'node:fs';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { DEFAULT_CACHE_MINIMUMS } from '../model/cache-minimums';
import { isBundleFresh } from '../temporal/bundle-freshness';
import { deploymentOptions, makeCurrent } from '../temporal/deployment';
import { prebuiltBundlePath, RUNNING_COMPILED, WORKFLOWS_ENTRY } from '../temporal/bundle-paths';
import { installTemporalRuntime } from '../temporal/runtime';
import { announceTurnStored } from '../storage/turn-notices';
import { tracing } from './tracing';
import type { Services } from './services';

export interface RunningWorker {
  worker: Worker;
  /** Settles when the worker has stopped. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * How the upkeep sizes summaries: segments are consolidated only once they would pass the archive's cap (facts and
 * older turns then give way), and a full summary is never asked to be longer than that cap — a longer one would not
 * fit it, and be left out of every turn.
 */
export function summarySizes(config: Pick<Services['config'], 'memory'>): {
  summaryMaxTokens: number;
  summaryArchiveTokens: number;
} {
  const cap = Math.floor(config.memory.archiveShare * config.memory.budgetTokens);
  return { summaryMaxTokens: Math.min(1024, cap), summaryArchiveTokens: cap };
}

export function activityDeps(s: Services): ActivityDeps {
  const { config } = s;
  return {
    conversations: s.conversations,
    manifests: s.manifests,
    llmCalls: s.llmCalls,
    assembler: s.assembler,
    model: s.model.client,
    calibration: s.calibration,
    modelSettings: {
      maxTokens: config.anthropic.maxTokens,
      cacheMinimums: { ...DEFAULT_CACHE_MINIMUMS, ...config.cache.minimums },
      systemCacheTtl: config.cache.systemTtl,
      retry: config.retry,
    },
    policy: () => config.policy,
    dailyBudgetUsd: (tenantId) => config.dailyBudgets?.[tenantId] ?? config.dailyBudgets?.['*'],
    metrics: s.metrics,
    log: s.log,
    summaries: s.summaries,
    facts: s.facts,
    hot: s.memory.hot,
    semantic: s.memory.semantic,
    summaryCache: s.memory.summaryCache,
    memorySettings: {
      summaryModel: config.memory.summaryModel,
      indexBatch: 100,
      ...summarySizes(config),
    },
    privacy: s.privacy,
    streams: s.streams,
    ...(s.turnNotices ? { announceTurnStored: (turn) => announceTurnStored(s.db, turn) } : {}),
    userSearchKey: s.userSearchKey,
    tools: s.tools,
  };
}

/** Where the workflow code is: a prebuilt bundle when given (tests, production images), else the sources. */
export type WorkflowSource = Pick<WorkerOptions, 'workflowBundle'> | Pick<WorkerOptions, 'workflowsPath'>;

export const WORKFLOWS_PATH = WORKFLOWS_ENTRY;

/** See the Worker.create call: how long a dead worker's sticky workflow task waits before another worker takes it. */
const STICKY_SCHEDULE_TO_START_TIMEOUT = '1s';
/**
 * See the Worker.create call: heartbeats reach the server at least this often. The SDK's default throttle is 80% of
 * the heartbeat timeout, which leaves a heartbeat one fifth of the timeout to be late before a live call is taken
 * for dead; sent every second, the model call's 3 s heartbeat timeout (workflows/model-chain.ts) has two seconds.
 */
const MAX_HEARTBEAT_THROTTLE_INTERVAL = '1s';

/**
 * With `MEMOIR_MODEL_CALL=local` a model call holds its workflow task's slot until the model has answered or the call
 * is handed over to an activity after 1.5 s (core completes the task only when its local activities are done): the
 * SDK's 40 slots would cap a worker at 40 turns in that phase, where model calls as activities get 100 activity
 * slots. As many slots as those 100 calls, and room for the workflow tasks of other conversations beside them.
 */
const LOCAL_MODEL_CALL_SLOTS = { maxConcurrentWorkflowTaskExecutions: 150, maxConcurrentLocalActivityExecutions: 150 };

/**
 * The compiled output loads the bundle `npm run build` made (what the replay tests ran against), so a worker
 * starts without webpack; so do the sources when that bundle is newer than every source file (the tests keep it
 * so). Otherwise the sources (development) and tracing (its plugin adds workflow interceptors at bundle time)
 * bundle the workflow code now.
 */
export function defaultWorkflowSource(s: Services): { source: WorkflowSource; why: string } {
  const bundling = { workflowsPath: WORKFLOWS_PATH };
  if (s.config.tracing !== 'off')
    return { source: bundling, why: 'bundling workflow code at start-up: tracing adds its interceptors to it' };
  const codePath = prebuiltBundlePath(s.encryption.dataConverter ? 'encrypted' : 'plain');
  if (!RUNNING_COMPILED) {
    // From the sources a bundle newer than every source file is the same code, minus seconds of webpack.
    if (isBundleFresh(codePath))
      return {
        source: { workflowBundle: { codePath } },
        why: `loading the prebuilt workflow bundle ${codePath} (newer than the sources)`,
      };
    return {
      source: bundling,
      why: 'bundling workflow code from the sources (development; `npm run build` prebuilds it)',
    };
  }
  if (!fs.existsSync(codePath))
    return { source: bundling, why: `no prebuilt workflow bundle at ${codePath}: bundling workflow code at start-up` };
  return { source: { workflowBundle: { codePath } }, why: `loading the prebuilt workflow bundle ${codePath}` };
}

export async function startWorker(s: Services, given?: WorkflowSource): Promise<RunningWorker> {
  let source = given;
  if (!source) {
    const chosen = defaultWorkflowSource(s);
    s.log.info({ workflowCode: 'workflowBundle' in chosen.source ? 'prebuilt' : 'bundled' }, chosen.why);
    source = chosen.source;
  }
  // Bound like the worker's own /metrics: on MEMOIR_API_HOST, loopback by default.
  installTemporalRuntime(s.log, s.config.metrics.temporalPort, s.config.api.host);
  const connection = await NativeConnection.connect({ address: s.temporal.address });
  const traces = tracing(s.config);
  const deployment = deploymentOptions(s.config, source);
  const worker = await Worker.create({
    connection,
    namespace: s.config.temporal.namespace,
    taskQueue: s.config.temporal.taskQueue,
    // Written ~11 times a turn into history (and into the sticky queue's name): configurable, for long host names.
    ...(s.config.temporal.workerIdentity ? { identity: s.config.temporal.workerIdentity } : {}),
    ...source,
    ...(s.encryption.dataConverter ? { dataConverter: s.encryption.dataConverter } : {}),
    ...(traces ? { plugins: [traces.plugin] } : {}),
    activities: createActivities(activityDeps(s)),
    // A conversation's next workflow task goes to the worker that ran the last one (its sticky queue). When that
    // worker has died, the task waits this long before any worker may take it: the default 10 s would dominate
    // recovery from a crash. A live worker picks up its sticky tasks in milliseconds.
    stickyQueueScheduleToStartTimeout: STICKY_SCHEDULE_TO_START_TIMEOUT,
    // A heartbeat a second (generateReply beats that often), so a short heartbeat timeout notices a dead worker
    // fast without taking a live one for dead.
    maxHeartbeatThrottleInterval: MAX_HEARTBEAT_THROTTLE_INTERVAL,
    ...(s.config.policy.modelCall === 'local' ? LOCAL_MODEL_CALL_SLOTS : {}),
    ...deployment.options,
  });
  const done = worker.run().finally(async () => {
    await traces?.shutdown();
    await connection.close();
  });
  const stop = async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await done;
  };
  if (deployment.version) {
    s.log.info({ ...deployment.version, versioning: s.config.temporal.versioning.mode }, 'worker deployment version');
    // `auto`: a worker that starts serves at once (the embedded demo, a one-step rollout); `manual`: the operator
    // makes the version current (docs/operations.md), and until then this worker takes no workflow tasks.
    if (s.config.temporal.versioning.mode === 'manual') {
      const { deploymentName, buildId } = deployment.version;
      s.log.info(
        `this worker takes workflow tasks once its version is current: temporal worker deployment set-current-version --deployment-name ${deploymentName} --build-id ${buildId}`,
      );
    } else {
      try {
        await makeCurrent(connection, s.config.temporal.namespace, deployment.version, s.log);
      } catch (err) {
        await stop();
        throw err;
      }
    }
  }
  return { worker, done, stop };
}
