/**
 * One Memoir process for the benchmark, run as `node --import tsx --expose-gc bench/lib/child.ts worker|api|serve`.
 * It is configured from its environment exactly like `memoir worker|api|serve` (same `serve()`), with two
 * differences that only matter to a measurement: it loads the benchmark's prebuilt workflow bundle (BENCH_BUNDLE)
 * instead of bundling on start, and a worker-only process serves /metrics on a free port. When ready it prints one
 * JSON line on stdout; over IPC it answers `{ type: 'memory' }` with its memory after a forced GC and stops on
 * `{ type: 'stop' }` (or SIGTERM).
 */
import v8 from 'node:v8';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { serve } from '../../src/cli/serve';
import { startMetricsServer } from '../../src/runtime/metrics-server';

export interface ChildReady {
  ready: true;
  role: string;
  pid: number;
  apiUrl?: string;
  metricsUrl?: string;
  /** The worker's workflow cache size (Temporal's default is derived from the V8 heap limit). */
  maxCachedWorkflows?: number;
  heapLimitMiB: number;
}

export interface ChildMemory {
  type: 'memory';
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function run(): Promise<void> {
  const role = process.argv[2];
  if (role !== 'worker' && role !== 'api' && role !== 'serve') throw new Error(`unknown role ${role}`);
  const bundle = process.env.BENCH_BUNDLE;
  if (!bundle) throw new Error('BENCH_BUNDLE (path of the prebuilt workflow bundle) is required');
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, file: `${config.dataDir}/${role}.log` });
  const serving = await serve(config, log, {
    worker: role !== 'api',
    api: role !== 'worker',
    progress: () => undefined,
    workflowSource: { workflowBundle: { codePath: bundle } },
  });
  const metrics = serving.api ? undefined : await startMetricsServer(serving.services.metrics, '127.0.0.1', 0);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await metrics?.close();
      await serving.stop();
    })()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        process.stderr.write(`bench child: ${String(err)}\n`);
        process.exit(1);
      }));
  process.on('message', (msg: { type?: string }) => {
    if (msg.type === 'stop') void stop();
    if (msg.type === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const m = process.memoryUsage();
      const reply: ChildMemory = {
        type: 'memory',
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
      };
      process.send?.(reply);
    }
  });
  process.once('SIGTERM', () => void stop());
  process.once('disconnect', () => void stop());
  const ready: ChildReady = {
    ready: true,
    role,
    pid: process.pid,
    ...(serving.api ? { apiUrl: serving.api.url, metricsUrl: `${serving.api.url}/metrics` } : {}),
    ...(metrics ? { metricsUrl: `${metrics.url}/metrics` } : {}),
    ...(serving.worker ? { maxCachedWorkflows: serving.worker.worker.options.maxCachedWorkflows } : {}),
    heapLimitMiB: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

run().catch((err: unknown) => {
  process.stderr.write(`bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
