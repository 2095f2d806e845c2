/**
 * The SDK's floor for a turn and the pieces that measure it, shared by bench/wft/activation-cost.ts (the workflow
 * side against its floor, variants interleaved) and the benchmark's peer and scale suites (the floor beside Memoir
 * and LangGraph JS in one run, `startFloor`): the bundle of bench/wft/floor-workflows.ts, a worker child with
 * activities that do no I/O (bench/wft/floor-worker.ts), and one turn sent as MemoirClient sends it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { procTimes, treeCpuMs } from '../lib/proc';
import { TEST_SERVICES } from '../../test/helpers/services';
import { sendMessageUpdate, withPolicyDefaults } from '../../workflows/contract';

const ROOT = path.join(__dirname, '..', '..');
export const DEFAULT_FLOOR_BUNDLE = path.join(ROOT, '.data', 'bench', 'wft-bundle.js');

export async function buildFloorBundle(out: string): Promise<void> {
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'floor-workflows.ts'),
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, code);
}

let defaultBuilt: Promise<void> | undefined;
/** The default bundle, built once per process (the peer and scale suites of one run share it). */
export function defaultFloorBundle(): Promise<string> {
  defaultBuilt ??= buildFloorBundle(DEFAULT_FLOOR_BUNDLE);
  return defaultBuilt.then(() => DEFAULT_FLOOR_BUNDLE);
}

export interface Variant {
  label: string;
  workflow: 'floor' | 'floorLocal' | 'memoir';
  bundle: string;
  opts: { debug?: boolean; threads?: number };
  /** Send each turn as MemoirClient does: update-with-start (USE_EXISTING), not a plain update. */
  withStart?: boolean;
  /** Memoir's model call as a local activity (policy `modelCall: 'local'`, as MEMOIR_MODEL_CALL=local sets it). */
  localCall?: boolean;
}

/** A worker child for the variant on `queue`: Memoir's worker options and activities that do no I/O. */
export async function startWorkerChild(
  v: Pick<Variant, 'bundle' | 'opts'>,
  queue: string,
  { address = TEST_SERVICES.temporalAddress, cpuProf }: { address?: string; cpuProf?: string } = {},
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []),
      '--import',
      'tsx',
      path.join(__dirname, 'floor-worker.ts'),
    ],
    {
      env: {
        ...process.env,
        WFT_ADDRESS: address,
        WFT_BUNDLE: v.bundle,
        WFT_QUEUE: queue,
        WFT_OPTS: JSON.stringify(v.opts),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = readline.createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
    lines.on('line', (l) => l === 'ready' && resolve());
  });
  return child;
}

export async function stopWorkerChild(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const POLICY = withPolicyDefaults({
  models: ['claude-sonnet-5-5'],
  attemptsPerModel: 3,
  turnDeadlineMs: 120_000,
  modelCallTimeoutMs: 60_000,
  degradedReply: 'degraded',
  maxContentBytes: 100_000,
  turnsPerRun: 10_000,
  idleTimeoutMs: 3_600_000,
});

let seq = 0;
export async function turn(client: Client, v: Variant, queue: string, workflowId: string): Promise<number> {
  const t0 = performance.now();
  const updateId = `m${process.pid}-${seq++}`;
  const args = [{ content: 'hello there, how are you today?', replyFromStore: true }] as const;
  if (v.withStart) {
    const { workflowType, ...start } = startOptions(v, queue, workflowId);
    await client.workflow.executeUpdateWithStart(sendMessageUpdate, {
      args: [...args],
      updateId,
      startWorkflowOperation: new WithStartWorkflowOperation(workflowType, {
        ...start,
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  } else {
    await client.workflow.getHandle(workflowId).executeUpdate(sendMessageUpdate, { args: [...args], updateId });
  }
  return performance.now() - t0;
}

function startOptions(v: Variant, queue: string, workflowId: string) {
  if (v.workflow !== 'memoir') return { workflowType: `${v.workflow}Workflow`, taskQueue: queue, workflowId, args: [] };
  const policy = v.localCall ? { ...POLICY, modelCall: 'local' as const } : POLICY;
  return {
    workflowType: 'conversationWorkflow',
    taskQueue: queue,
    workflowId,
    args: [{ tenantId: 'wft', conversationId: workflowId, userId: 'u', systemPrompt: 'be brief', policy }],
  };
}

export async function open(client: Client, v: Variant, queue: string, prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await Promise.all(
    ids.map((id) => {
      const { workflowType, ...start } = startOptions(v, queue, id);
      return client.workflow.start(workflowType, start);
    }),
  );
  return ids;
}

export interface FloorThroughput {
  turnsPerSecond: number;
  workerCpuMsPerTurn: number;
  /** NaN when the server's process is not known. */
  temporalCpuMsPerTurn: number;
}

/**
 * The floor beside a benchmark run, on its Temporal server: one worker child for both floor workflows, and a client.
 * `temporalPid`: the server's process, for its CPU per turn.
 */
let floorsStarted = 0;
export async function startFloor(address: string, temporalPid?: number) {
  await defaultFloorBundle();
  const queue = `floor-${process.pid}-${floorsStarted++}`;
  const child = await startWorkerChild({ bundle: DEFAULT_FLOOR_BUNDLE, opts: {} }, queue, { address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  let n = 0;
  return {
    /** `turns` turns on a new workflow of the kind, each sent as MemoirClient sends one (update-with-start). */
    async side(workflow: 'floor' | 'floorLocal', turns: number): Promise<number[]> {
      const v: Variant = { label: workflow, workflow, bundle: DEFAULT_FLOOR_BUNDLE, opts: {}, withStart: true };
      const [id] = await open(client, v, queue, `${queue}-${workflow}-${n++}`, 1);
      const ms: number[] = [];
      for (let i = 0; i < turns; i++) ms.push(await turn(client, v, queue, id!));
      await client.workflow.getHandle(id!).terminate('benchmark done');
      return ms;
    },
    /**
     * A closed loop of `concurrency` lanes, each on a workflow of its own sending `turnsPerLane` turns back to back
     * (3 warm-up turns each first): turns per second, and CPU per turn of the worker child and of the server.
     */
    async throughput(concurrency: number, turnsPerLane: number): Promise<FloorThroughput> {
      const v: Variant = { label: 'floor', workflow: 'floor', bundle: DEFAULT_FLOOR_BUNDLE, opts: {}, withStart: true };
      const ids = await open(client, v, queue, `${queue}-c${concurrency}-${n++}`, concurrency);
      const lanes = (turns: number) =>
        Promise.all(
          ids.map(async (id) => {
            for (let i = 0; i < turns; i++) await turn(client, v, queue, id);
          }),
        );
      await lanes(3);
      const workerCpu = () => procTimes(child.pid!)!.own;
      const serverCpu = () => (temporalPid === undefined ? Number.NaN : treeCpuMs(temporalPid));
      const [worker0, server0, t0] = [workerCpu(), serverCpu(), performance.now()];
      await lanes(turnsPerLane);
      const turns = concurrency * turnsPerLane;
      const result = {
        turnsPerSecond: turns / ((performance.now() - t0) / 1000),
        workerCpuMsPerTurn: (workerCpu() - worker0) / turns,
        temporalCpuMsPerTurn: (serverCpu() - server0) / turns,
      };
      await Promise.all(ids.map((id) => client.workflow.getHandle(id).terminate('benchmark done')));
      return result;
    },
    async stop() {
      await connection.close();
      await stopWorkerChild(child);
    },
  };
}
