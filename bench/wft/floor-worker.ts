/**
 * The worker child of bench/wft/floor.ts (`startWorkerChild`): the worker options Memoir uses
 * (src/runtime/worker.ts) plus the variant's, with activities that do no I/O (bench/wft/stub-activities.ts).
 * Prints `ready` once it polls; stops on SIGTERM.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { stubActivities } from './stub-activities';

async function runWorker(): Promise<void> {
  // Warnings only: its state changes would fill the benchmark's log.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const opts = JSON.parse(process.env.WFT_OPTS ?? '{}') as { debug?: boolean; threads?: number };
  const connection = await NativeConnection.connect({ address: process.env.WFT_ADDRESS! });
  const worker = await Worker.create({
    connection,
    taskQueue: process.env.WFT_QUEUE!,
    workflowBundle: { codePath: process.env.WFT_BUNDLE! },
    activities: stubActivities(),
    stickyQueueScheduleToStartTimeout: '1s',
    maxHeartbeatThrottleInterval: '1s',
    ...(opts.debug ? { debugMode: true } : {}),
    ...(opts.threads ? { workflowThreadPoolSize: opts.threads } : {}),
  });
  process.once('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
}

runWorker().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
