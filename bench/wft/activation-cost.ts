/**
 * What a turn costs on the workflow side: Memoir's conversationWorkflow against the SDK's floor (one update whose
 * handler runs one eager activity), on the same worker options, with activities that do no I/O
 * (bench/wft/stub-activities.ts). Each variant runs in a worker child process of its own; the variants take turns
 * round after round (A/B interleaved, same minutes) and the figures are medians over rounds.
 *
 *   npx tsx bench/wft/activation-cost.ts [--rounds 3] [--turns1 60] [--turns32 640] [--variants floor,memoir]
 *     [--bundle label=path ...] [--cpu-prof DIR]
 *
 * A variant is `<workflow>[:<bundle label>][+option…]`: workflow `floor` or `memoir`; options `debug` (debugMode:
 * workflows on the main thread), `nomap` (the bundle without its inline source map), `threads2`. `--bundle` names
 * bundles built elsewhere (e.g. from another commit, `npx tsx bench/wft/activation-cost.ts --build-only out.js`) so
 * code changes can be compared in one run. Per variant and round: p50 of a turn at concurrency 1 (one
 * conversation), and at concurrency 32 (32 conversations) turns/s and the worker's CPU per turn (/proc, all its
 * threads). Needs the Temporal dev server of scripts/services.sh; nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { procTimes } from '../lib/proc';
import { median, quantile } from '../lib/stats';
import { TEST_SERVICES } from '../../test/helpers/services';
import { sendMessageUpdate, withPolicyDefaults } from '../../workflows/contract';
import { stubActivities } from './stub-activities';

const ROOT = path.join(__dirname, '..', '..');
const DEFAULT_BUNDLE = path.join(ROOT, '.data', 'bench', 'wft-bundle.js');

async function build(out: string): Promise<void> {
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'floor-workflows.ts'),
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, code);
}

/** The bundle without its inline source map (the SDK then maps no stack frames). */
function withoutSourceMap(file: string): string {
  const code = fs.readFileSync(file, 'utf8');
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  // The SDK insists on a source map: an empty one maps nothing.
  const empty = Buffer.from(JSON.stringify({ version: 3, sources: [], names: [], mappings: '', file: '' })).toString(
    'base64',
  );
  const out = file.replace(/\.js$/, '.nomap.js');
  fs.writeFileSync(out, `${code.slice(0, at)}//# sourceMappingURL=data:application/json;base64,${empty}\n`);
  return out;
}

/** The worker child: the worker options Memoir uses (src/runtime/worker.ts) plus the variant's. */
async function runWorker(): Promise<void> {
  const opts = JSON.parse(process.env.WFT_OPTS ?? '{}') as { debug?: boolean; threads?: number };
  const connection = await NativeConnection.connect({ address: TEST_SERVICES.temporalAddress });
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

interface Variant {
  label: string;
  workflow: 'floor' | 'memoir';
  bundle: string;
  opts: { debug?: boolean; threads?: number };
}

function parseVariant(spec: string, bundles: Map<string, string>): Variant {
  const [head, ...options] = spec.split('+');
  const [workflow, bundleLabel = 'current'] = head!.split(':');
  if (workflow !== 'floor' && workflow !== 'memoir') throw new Error(`unknown workflow in ${spec}`);
  let bundle = bundles.get(bundleLabel);
  if (!bundle) throw new Error(`no bundle named ${bundleLabel} (give --bundle ${bundleLabel}=path)`);
  const opts: Variant['opts'] = {};
  for (const o of options) {
    if (o === 'debug') opts.debug = true;
    else if (o === 'nomap') bundle = withoutSourceMap(bundle);
    else if (/^threads\d+$/.test(o)) opts.threads = Number(o.slice(7));
    else throw new Error(`unknown option ${o} in ${spec}`);
  }
  return { label: spec, workflow, bundle, opts };
}

async function startChild(v: Variant, queue: string, cpuProf?: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []), '--import', 'tsx', __filename, '--worker'],
    {
      env: { ...process.env, WFT_BUNDLE: v.bundle, WFT_QUEUE: queue, WFT_OPTS: JSON.stringify(v.opts) },
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

async function stopChild(child: ChildProcess): Promise<void> {
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
async function turn(client: Client, workflowId: string): Promise<number> {
  const t0 = performance.now();
  const id = `m${process.pid}-${seq++}`;
  await client.workflow.getHandle(workflowId).executeUpdate(sendMessageUpdate, {
    args: [{ content: 'hello there, how are you today?', replyFromStore: true }],
    updateId: id,
  });
  return performance.now() - t0;
}

async function open(client: Client, v: Variant, queue: string, prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await Promise.all(
    ids.map((id) =>
      v.workflow === 'floor'
        ? client.workflow.start('floorWorkflow', { taskQueue: queue, workflowId: id, args: [] })
        : client.workflow.start('conversationWorkflow', {
            taskQueue: queue,
            workflowId: id,
            args: [{ tenantId: 'wft', conversationId: id, userId: 'u', systemPrompt: 'be brief', policy: POLICY }],
          }),
    ),
  );
  return ids;
}

interface Sample {
  p50c1: number;
  p99c1: number;
  rate32: number;
  cpuPerTurn32: number;
}

async function measure(client: Client, v: Variant, round: number, a: Record<string, number>, prof?: string) {
  const queue = `wft-${process.pid}-${round}-${v.label.replace(/[^a-z0-9]/gi, '')}`;
  const child = await startChild(v, queue, prof);
  const cpu = () => procTimes(child.pid!)!.own;
  try {
    const [one] = await open(client, v, queue, `${queue}-c1`, 1);
    for (let i = 0; i < 10; i++) await turn(client, one!); // warm-up: the context, the sticky queue
    const c1: number[] = [];
    for (let i = 0; i < a.turns1!; i++) c1.push(await turn(client, one!));
    const many = await open(client, v, queue, `${queue}-c32`, 32);
    await Promise.all(
      many.map(async (id) => {
        for (let i = 0; i < 3; i++) await turn(client, id);
      }),
    );
    const perLane = Math.ceil(a.turns32! / 32);
    const cpu0 = cpu();
    const t0 = performance.now();
    await Promise.all(
      many.map(async (id) => {
        for (let i = 0; i < perLane; i++) await turn(client, id);
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const sample: Sample = {
      p50c1: quantile(c1, 0.5),
      p99c1: quantile(c1, 0.99),
      rate32: (perLane * 32) / s,
      cpuPerTurn32: (cpu() - cpu0) / (perLane * 32),
    };
    for (const id of [one!, ...many])
      await client.workflow
        .getHandle(id)
        .terminate('benchmark done')
        .catch(() => undefined);
    return sample;
  } finally {
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--worker')) return runWorker();
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      turns1: { type: 'string', default: '60' },
      turns32: { type: 'string', default: '640' },
      variants: { type: 'string', default: 'floor,memoir' },
      bundle: { type: 'string', multiple: true, default: [] },
      'build-only': { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  if (values['build-only']) return build(values['build-only']);
  const bundles = new Map<string, string>();
  for (const b of values.bundle) {
    const [label, file] = b.split('=');
    bundles.set(label!, path.resolve(file!));
  }
  if (!bundles.has('current')) {
    await build(DEFAULT_BUNDLE);
    bundles.set('current', DEFAULT_BUNDLE);
  }
  const variants = values.variants.split(',').map((s) => parseVariant(s, bundles));
  const a = { turns1: Number(values.turns1), turns32: Number(values.turns32) };
  const connection = await Connection.connect({ address: TEST_SERVICES.temporalAddress });
  const client = new Client({ connection });
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.label, []]));
  try {
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
        const s = await measure(client, v, r, a, values['cpu-prof']);
        samples.get(v.label)!.push(s);
        process.stderr.write(
          `[wft] round ${r + 1} ${v.label}: c=1 p50 ${s.p50c1.toFixed(1)} ms p99 ${s.p99c1.toFixed(1)} · c=32 ${s.rate32.toFixed(1)} turns/s, worker CPU ${s.cpuPerTurn32.toFixed(2)} ms/turn\n`,
        );
      }
    }
  } finally {
    await connection.close();
  }
  console.log('| variant | c=1 p50 ms | c=1 p99 ms | c=32 turns/s | worker CPU ms/turn (c=32) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [label, s] of samples) {
    const m = (f: (x: Sample) => number) => median(s.map(f)).toFixed(2);
    console.log(
      `| ${label} | ${m((x) => x.p50c1)} | ${m((x) => x.p99c1)} | ${m((x) => x.rate32)} | ${m((x) => x.cpuPerTurn32)} |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
