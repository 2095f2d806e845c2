/**
 * What a turn costs on the workflow side: Memoir's conversationWorkflow against the SDK's floor (one update whose
 * handler runs one eager activity), on the same worker options, with activities that do no I/O
 * (bench/wft/stub-activities.ts). Each variant runs in a worker child process of its own; the variants take turns
 * round after round (A/B interleaved, same minutes) and the figures are medians over rounds.
 *
 *   npx tsx bench/wft/activation-cost.ts [--rounds 3] [--turns1 60] [--turns32 640] [--variants floor,memoir]
 *     [--bundle label=path ...] [--cpu-prof DIR] [--out FILE.md]
 *
 * A variant is `<workflow>[:<bundle label>][+option…]`: workflow `floor`, `floorLocal` (the floor with a local
 * activity instead, as MEMOIR_MODEL_CALL=local runs a turn) or `memoir`; options `uws` (each turn sent as
 * MemoirClient sends it, update-with-start, instead of a plain update), `local` (memoir with the local model call),
 * `debug` (debugMode: workflows on the main thread), `nomap` (the bundle without its inline source map), `threads2`.
 * `--bundle` names bundles built elsewhere (e.g. from another commit, `npx tsx bench/wft/activation-cost.ts
 * --build-only out.js`) so code changes can be compared in one run. Per variant and round: p50 of a turn at
 * concurrency 1 (one conversation), and at concurrency 32 (32 conversations) turns/s and the CPU per turn of the
 * worker (/proc, all its threads) and of the Temporal server. `--out` also writes the table as a generated page
 * (bench/results/wft-floor.md is one). Needs the Temporal dev server of scripts/services.sh; nothing else.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { provenance } from '../lib/machine';
import { findPid, procTimes } from '../lib/proc';
import { median, quantile } from '../lib/stats';
import { TEST_SERVICES } from '../../test/helpers/services';
import {
  buildFloorBundle,
  defaultFloorBundle,
  open,
  startWorkerChild,
  stopWorkerChild,
  turn,
  type Variant,
} from './floor';

const ROOT = path.join(__dirname, '..', '..');

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

function parseVariant(spec: string, bundles: Map<string, string>): Variant {
  const [head, ...options] = spec.split('+');
  const [workflow, bundleLabel = 'current'] = head!.split(':');
  if (workflow !== 'floor' && workflow !== 'floorLocal' && workflow !== 'memoir')
    throw new Error(`unknown workflow in ${spec}`);
  let bundle = bundles.get(bundleLabel);
  if (!bundle) throw new Error(`no bundle named ${bundleLabel} (give --bundle ${bundleLabel}=path)`);
  const opts: Variant['opts'] = {};
  let withStart = false;
  let localCall = false;
  for (const o of options) {
    if (o === 'debug') opts.debug = true;
    else if (o === 'uws') withStart = true;
    else if (o === 'local') localCall = true;
    else if (o === 'nomap') bundle = withoutSourceMap(bundle);
    else if (/^threads\d+$/.test(o)) opts.threads = Number(o.slice(7));
    else throw new Error(`unknown option ${o} in ${spec}`);
  }
  return { label: spec, workflow, bundle, opts, withStart, localCall };
}

interface Sample {
  p50c1: number;
  p99c1: number;
  rate32: number;
  cpuPerTurn32: number;
  /** The Temporal server's CPU per turn at c=32 (the dev server of scripts/services.sh; 0 when not found). */
  serverCpuPerTurn32: number;
}

async function measure(client: Client, v: Variant, round: number, a: Record<string, number>, prof?: string) {
  const queue = `wft-${process.pid}-${round}-${v.label.replace(/[^a-z0-9]/gi, '')}`;
  const child = await startWorkerChild(v, queue, { ...(prof ? { cpuProf: prof } : {}) });
  const cpu = () => procTimes(child.pid!)!.own;
  const port = TEST_SERVICES.temporalAddress.split(':').pop();
  const serverPid = findPid((cmd) => cmd.includes('start-dev') && cmd.includes(`--port ${port}`));
  const serverCpu = () => (serverPid ? procTimes(serverPid)!.own : 0);
  try {
    const [one] = await open(client, v, queue, `${queue}-c1`, 1);
    for (let i = 0; i < 10; i++) await turn(client, v, queue, one!); // warm-up: the context, the sticky queue
    const c1: number[] = [];
    for (let i = 0; i < a.turns1!; i++) c1.push(await turn(client, v, queue, one!));
    const many = await open(client, v, queue, `${queue}-c32`, 32);
    await Promise.all(
      many.map(async (id) => {
        for (let i = 0; i < 3; i++) await turn(client, v, queue, id);
      }),
    );
    const perLane = Math.ceil(a.turns32! / 32);
    const cpu0 = cpu();
    const server0 = serverCpu();
    const t0 = performance.now();
    await Promise.all(
      many.map(async (id) => {
        for (let i = 0; i < perLane; i++) await turn(client, v, queue, id);
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const sample: Sample = {
      p50c1: quantile(c1, 0.5),
      p99c1: quantile(c1, 0.99),
      rate32: (perLane * 32) / s,
      cpuPerTurn32: (cpu() - cpu0) / (perLane * 32),
      serverCpuPerTurn32: (serverCpu() - server0) / (perLane * 32),
    };
    for (const id of [one!, ...many])
      await client.workflow
        .getHandle(id)
        .terminate('benchmark done')
        .catch(() => undefined);
    return sample;
  } finally {
    await stopWorkerChild(child);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      turns1: { type: 'string', default: '60' },
      turns32: { type: 'string', default: '640' },
      variants: { type: 'string', default: 'floor,memoir' },
      bundle: { type: 'string', multiple: true, default: [] },
      'build-only': { type: 'string' },
      'cpu-prof': { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (values['build-only']) return buildFloorBundle(values['build-only']);
  const bundles = new Map<string, string>();
  for (const b of values.bundle) {
    const [label, file] = b.split('=');
    bundles.set(label!, path.resolve(file!));
  }
  if (!bundles.has('current')) {
    bundles.set('current', await defaultFloorBundle());
  }
  const variants = values.variants.split(',').map((s) => parseVariant(s, bundles));
  const a = { turns1: Number(values.turns1), turns32: Number(values.turns32) };
  const loadAtStart = Math.round(os.loadavg()[0]! * 100) / 100;
  const connection = await Connection.connect({ address: TEST_SERVICES.temporalAddress });
  const client = new Client({ connection });
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.label, []]));
  try {
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
        const s = await measure(client, v, r, a, values['cpu-prof']);
        samples.get(v.label)!.push(s);
        process.stderr.write(
          `[wft] round ${r + 1} ${v.label}: c=1 p50 ${s.p50c1.toFixed(1)} ms p99 ${s.p99c1.toFixed(1)} · c=32 ${s.rate32.toFixed(1)} turns/s, worker CPU ${s.cpuPerTurn32.toFixed(2)} ms/turn, server ${s.serverCpuPerTurn32.toFixed(2)}\n`,
        );
      }
    }
  } finally {
    await connection.close();
  }
  const table = [
    '| variant | c=1 p50 ms | c=1 p99 ms | c=32 turns/s | worker CPU ms/turn (c=32) | Temporal server CPU ms/turn (c=32) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...[...samples].map(([label, s]) => {
      const m = (f: (x: Sample) => number) => median(s.map(f)).toFixed(2);
      return `| ${label} | ${m((x) => x.p50c1)} | ${m((x) => x.p99c1)} | ${m((x) => x.rate32)} | ${m((x) => x.cpuPerTurn32)} | ${m((x) => x.serverCpuPerTurn32)} |`;
    }),
  ].join('\n');
  console.log(table);
  if (values.out) writeReport(values.out, table, { ...a, rounds: Number(values.rounds), loadAtStart });
}

/** The table as a generated page: what was run, where, and how to read it. */
function writeReport(file: string, table: string, params: Record<string, number>): void {
  const p = provenance();
  const m = p.machine;
  const page = [
    '# Workflow side of a turn against the SDK floor',
    '',
    `_Generated by \`bench/wft/activation-cost.ts\`; method and variants: [bench/README.md](${path.relative(path.dirname(path.resolve(file)), path.join(ROOT, 'bench', 'README.md'))}). Do not edit._`,
    '',
    `- Date: ${p.date} · commit \`${p.commit}\`${p.dirty ? ' (with uncommitted local changes)' : ''}`,
    `- Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; load average ${params.loadAtStart} at the start, ${m.loadAverage1m} at the end`,
    `- Temporal SDK ${p.services.temporalSdk}; the in-memory dev server of scripts/services.sh with temporal-config/dev-server.json's dynamic config; activities do no I/O`,
    `- Parameters: rounds=${params.rounds} (median of rounds), turns at c=1 per round=${params.turns1}, turns at c=32 per round=${params.turns32}`,
    '',
    table,
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, page);
  process.stderr.write(`[wft] wrote ${file}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
