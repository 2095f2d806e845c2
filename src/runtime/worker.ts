/**
 * The Temporal worker: conversation workflows and their activities on one task queue.
 */
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { DEFAULT_CACHE_MINIMUMS } from '../model/cache-minimums';
import { installTemporalRuntime } from '../temporal/runtime';
import { tracing } from './tracing';
import type { Services } from './services';

export interface RunningWorker {
  worker: Worker;
  /** Settles when the worker has stopped. */
  done: Promise<void>;
  stop(): Promise<void>;
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
    memorySettings: { summaryModel: config.memory.summaryModel, summaryMaxTokens: 1024, indexBatch: 100 },
    privacy: s.privacy,
    streams: s.streams,
    userSearchKey: s.userSearchKey,
  };
}

/** Where the workflow code is: a prebuilt bundle when given (tests, production images), else the sources. */
export type WorkflowSource = Pick<WorkerOptions, 'workflowBundle'> | Pick<WorkerOptions, 'workflowsPath'>;

export const WORKFLOWS_PATH = path.join(__dirname, '..', '..', 'workflows', 'index.ts');

export async function startWorker(
  s: Services,
  source: WorkflowSource = { workflowsPath: WORKFLOWS_PATH },
): Promise<RunningWorker> {
  installTemporalRuntime(s.log, s.config.metrics.temporalPort);
  const connection = await NativeConnection.connect({ address: s.temporal.address });
  const traces = tracing(s.config);
  const worker = await Worker.create({
    connection,
    namespace: s.config.temporal.namespace,
    taskQueue: s.config.temporal.taskQueue,
    ...source,
    ...(s.encryption.dataConverter ? { dataConverter: s.encryption.dataConverter } : {}),
    ...(traces ? { plugins: [traces.plugin] } : {}),
    activities: createActivities(activityDeps(s)),
  });
  const done = worker.run().finally(async () => {
    await traces?.shutdown();
    await connection.close();
  });
  return {
    worker,
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
