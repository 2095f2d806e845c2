/**
 * Memoir's benchmark suite, against the real local services (scripts/services.sh start).
 *
 *   npx tsx bench/run.ts                 full suite (the issue's numbers; long)
 *   npx tsx bench/run.ts --quick         a first look, under 5 minutes on 2 cores
 *   npx tsx bench/run.ts --smoke         the smallest case of each measurement, once (CI: proves the harness works)
 *   npx tsx bench/run.ts --only cost,locomo --repeats 3 --out /tmp/bench
 *   npx tsx bench/run.ts --shared-services   latency suites on the test services instead of the durable configuration
 *
 * Environment: BENCH_MODEL_LATENCY_MS (simulated model time, default 0), BENCH_MODEL_PACE (the streaming pace,
 * `FIRST_TOKEN_MS,TOKENS_PER_SECOND`, default 300,50), LOCOMO_PATH (the LoCoMo JSON), and any MEMOIR_* setting,
 * which is passed to the Memoir processes under test. See bench/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { provenance } from './lib/machine';
import { durableInfra, sharedInfra, type BenchInfra } from './lib/infra';
import { parsePace, startBenchModel } from './lib/offline';
import { renderDocs, writeResults, type RunResult } from './lib/results';
import { bundleWorkflows, checkServices, forwardedEnv } from './lib/stack';
import type { Mode, Suite, SuiteContext, SuiteResult } from './lib/suite';
import { SuiteSkipped } from './lib/suite';
import { costSuite } from './suites/cost';
import { realisticCostSuite } from './suites/cost-realistic';
import { locomoSuite } from './suites/locomo';
import { overheadSuite } from './suites/overhead';
import { peerSuite } from './suites/peer';
import { scaleSuite } from './suites/scale';

const SUITES: Suite[] = [overheadSuite, scaleSuite, costSuite, realisticCostSuite, locomoSuite, peerSuite];
/** The suites that run on the durable configuration (the others measure tokens and recall, not time). */
const LATENCY_SUITES = ['overhead', 'scale', 'peer'];
/** Runs per figure. Quick runs 2 so that it stays under 5 minutes on 2 cores; the full suite 5. */
const REPEATS: Record<Mode, number> = { smoke: 1, quick: 2, full: 5 };

async function run(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      repeats: { type: 'string' },
      out: { type: 'string' },
      // The latency suites on the test services (fsync off, shared in-memory Temporal): quicker to start, not what
      // users run. The default is a file-backed Temporal and an fsync-on PostgreSQL of the run's own.
      'shared-services': { type: 'boolean', default: false },
      // Regenerates latest.md and the README block from an existing latest.json (after a change to the writer).
      render: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npx tsx bench/run.ts [--quick | --smoke] [--only ${SUITES.map((s) => s.id).join(',')}] [--repeats N] [--out DIR] [--shared-services] [--render]\n`,
    );
    return;
  }
  const mode: Mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const repeats = values.repeats ? Number(values.repeats) : REPEATS[mode];
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error('--repeats must be a positive integer');
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((id) => !SUITES.some((s) => s.id === id)) ?? [];
  if (unknown.length)
    throw new Error(`unknown suite(s) ${unknown.join(', ')}; known: ${SUITES.map((s) => s.id).join(', ')}`);
  const suites = SUITES.filter((s) => !only || only.includes(s.id));
  const latencyMs = Number(process.env.BENCH_MODEL_LATENCY_MS ?? 0);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) throw new Error('BENCH_MODEL_LATENCY_MS must be an integer ≥ 0');
  const pace = parsePace(process.env.BENCH_MODEL_PACE);
  // Smoke (CI) and partial runs never overwrite the committed results.
  const defaultOut =
    mode === 'smoke' || only
      ? path.join(__dirname, '..', '.data', 'bench', only ? 'partial' : 'smoke')
      : path.join(__dirname, 'results');
  const outDir = path.resolve(values.out ?? defaultOut);

  if (values.render) {
    const dir = path.resolve(values.out ?? path.join(__dirname, 'results'));
    const previous = JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')) as RunResult;
    const readme = previous.mode === 'smoke' ? {} : { readme: path.join(__dirname, 'README.md') };
    const written = await renderDocs(
      { ...previous, suites: previous.suites.map(({ charts: _files, ...s }) => s) },
      { dir, ...readme },
    );
    process.stderr.write(`re-rendered ${written.map((w) => path.relative(process.cwd(), w)).join(', ')}\n`);
    return;
  }
  const started = performance.now();
  const log = (m: string) =>
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${m}\n`);
  await checkServices();
  log(`mode ${mode}, ${repeats} run(s) per figure, model latency ${latencyMs} ms; bundling the workflow code`);
  const bundlePath = await bundleWorkflows();
  const needsOwn = suites.some((s) => LATENCY_SUITES.includes(s.id));
  const infra: BenchInfra = values['shared-services'] || !needsOwn ? await sharedInfra() : await durableInfra(log);
  const model = await startBenchModel(latencyMs).catch(async (err: unknown) => {
    await infra.stop();
    throw err;
  });
  const prov = provenance();
  const ctx: SuiteContext = { mode, repeats, model, bundlePath, infra, pace, provenance: prov, log };
  const results: SuiteResult[] = [];
  try {
    for (const suite of suites) {
      const t0 = performance.now();
      log(`${suite.id}: start`);
      await model.reset();
      let result: SuiteResult;
      try {
        const out = await suite.run(ctx);
        const durationSec = (performance.now() - t0) / 1000;
        result =
          'skipped' in out
            ? { id: suite.id, title: suite.title, status: 'skipped', reason: out.skipped, durationSec, ...out.partial }
            : { id: suite.id, title: suite.title, status: 'ok', durationSec, ...out };
      } catch (err) {
        const durationSec = (performance.now() - t0) / 1000;
        const reason = err instanceof Error ? err.message : String(err);
        result = {
          id: suite.id,
          title: suite.title,
          status: err instanceof SuiteSkipped ? 'skipped' : 'failed',
          reason,
          durationSec,
        };
        if (!(err instanceof SuiteSkipped) && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      }
      log(
        `${suite.id}: ${result.status}${result.reason ? ` (${result.reason})` : ''} in ${result.durationSec.toFixed(0)} s`,
      );
      results.push(result);
    }
  } finally {
    await model.close();
    await infra.stop();
  }
  const runResult: RunResult = {
    provenance: prov,
    mode,
    params: {
      repeats,
      modelLatencyMs: latencyMs,
      modelPace: `${pace.firstTokenMs} ms,${pace.tokensPerSecond} tokens/s`,
      services: infra.kind,
      ...infra.settings,
      suites: suites.map((s) => s.id).join(','),
      memoirEnv: forwardedEnv(),
      loadAverageAtEnd: Math.round(os.loadavg()[0]! * 100) / 100,
    },
    durationSec: (performance.now() - started) / 1000,
    suites: results,
  };
  const written = await writeResults(runResult, {
    dir: outDir,
    ...(mode !== 'smoke' && !values.out && !only ? { readme: path.join(__dirname, 'README.md') } : {}),
  });
  log(`wrote ${written.map((w) => path.relative(process.cwd(), w)).join(', ')}`);
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length) throw new Error(`suite(s) failed: ${failed.map((f) => `${f.id} (${f.reason})`).join('; ')}`);
}

run().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
