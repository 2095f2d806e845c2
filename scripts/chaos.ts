/**
 * The reliability suite at full size: every fault scenario of test/reliability/scenarios, one after another, then
 * docs/reliability.md and docs/reliability.json generated from their verdicts. Exits 1 when any scenario failed.
 *
 *   npx tsx scripts/chaos.ts                      # everything, full size (what `make chaos` runs)
 *   npx tsx scripts/chaos.ts --only worker-kill   # some scenarios (comma-separated names)
 *   npx tsx scripts/chaos.ts --fast               # the sizes of the fast subset
 *   npx tsx scripts/chaos.ts --soak               # the worker killed 500 times (hours; nothing else runs)
 *   npx tsx scripts/chaos.ts --soak --kills 3     # the soak run's path on a few kills, to check it works
 *   npx tsx scripts/chaos.ts --only worker-kill --alternate   # kill the two workers in turn (see SecondWorker)
 *   npx tsx scripts/chaos.ts --only worker-kill --kills 20   # a shorter worker-kill run while iterating
 *   npx tsx scripts/chaos.ts --only worker-kill --merge       # full size; replaces its verdict in docs/ and keeps
 *                                                             # the others (marked with the run they came from);
 *                                                             # with --kills N the report's mode says so
 *   npx tsx scripts/chaos.ts --only worker-kill --kills 10 --model-call local   # the model call as a local
 *                                                             # activity (MEMOIR_MODEL_CALL=local on the API and
 *                                                             # every worker); without it MEMOIR_MODEL_CALL from
 *                                                             # the environment, else `activity`
 *
 * Partial and fast runs write to .data/chaos/ (or --out DIR) so they never overwrite the committed report.
 * Needs the test services: `scripts/services.sh start`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import globalSetup from '../test/global-setup';
import { renderReport, SUITE_LIMIT_MS, type Provenance } from '../test/reliability/report';
import { SCENARIOS, type Scenario } from '../test/reliability/scenarios';
import { workerKill, workerKillBudgetMs, type SecondWorker } from '../test/reliability/scenarios/worker-kill';
import type { Size, Verdict } from '../test/reliability/verdict';

const ROOT = path.join(__dirname, '..');
/** No scenario may run longer than this; a stuck one is reported as failed and the run goes on. */
const SCENARIO_HARD_LIMIT_MS = 60 * 60_000;
/** Past the worker-kill run's own budget (which grows with its kills): reconciliation and settling. */
const WORKER_KILL_SLACK_MS = 20 * 60_000;

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The code the run starts with (read before it starts: files may change while a long run goes on). */
const startedAt = {
  commit: git(['rev-parse', '--short=12', 'HEAD']) || 'unknown',
  dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
};

function provenance(mode: string, totalMs: number): Provenance {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return {
    ...startedAt,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: `${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}`,
    node: process.versions.node,
    mode,
    totalMs,
  };
}

async function runOne(
  scenario: Scenario,
  size: Size,
  soak = false,
  kills?: number,
  second: SecondWorker = 'standby',
): Promise<Verdict> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const killRun = soak || kills !== undefined || scenario.name === 'worker-kill';
  const limitMs = killRun
    ? Math.max(SCENARIO_HARD_LIMIT_MS, workerKillBudgetMs(soak ? 'soak' : size, kills) + WORKER_KILL_SLACK_MS)
    : SCENARIO_HARD_LIMIT_MS;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${limitMs / 60_000} min`)), limitMs);
  });
  try {
    const run =
      soak || kills !== undefined || second !== 'standby'
        ? workerKill(soak ? 'soak' : size, second, kills)
        : scenario.run(size);
    return await Promise.race([run, limit]);
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    return {
      scenario: scenario.title,
      size,
      load: '—',
      faults: '—',
      attempted: 0,
      answered: 0,
      degraded: 0,
      lost: 0,
      duplicated: 0,
      passed: false,
      failures: [`the scenario itself failed: ${message.split('\n')[0]}`],
      notes: message.split('\n').slice(0, 8),
      metrics: {},
      parameters: {},
      durationMs: Date.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

async function run(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      fast: { type: 'boolean' },
      soak: { type: 'boolean' },
      kills: { type: 'string' },
      out: { type: 'string' },
      merge: { type: 'boolean' },
      alternate: { type: 'boolean' },
      'model-call': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(usage());
    return;
  }
  if (values.merge && (!values.only || values.fast || values.soak || values.out))
    throw new Error('--merge goes with --only at full size (no --fast, --soak or --out)');
  if (values.soak && (values.fast || values.only)) throw new Error('--soak runs the worker-kill soak alone');
  const kills = values.kills === undefined ? undefined : Number(values.kills);
  if (kills !== undefined && !(Number.isInteger(kills) && kills > 0 && (values.only === 'worker-kill' || values.soak)))
    throw new Error('--kills N (a positive integer) goes with --only worker-kill or --soak');
  if (values.alternate && values.merge) throw new Error('--alternate runs are not merged into the committed report');
  if (values.alternate && !(values.only === 'worker-kill' || values.soak))
    throw new Error('--alternate goes with --only worker-kill or --soak');
  const second: SecondWorker = values.alternate ? 'alternate' : 'standby';
  // The flag, else the environment as the stack would read it, else the default.
  const modelCall = values['model-call'] ?? process.env.MEMOIR_MODEL_CALL ?? 'activity';
  if (modelCall !== 'activity' && modelCall !== 'local') throw new Error('--model-call is `activity` or `local`');
  if (modelCall === 'local' && values.merge)
    throw new Error('--model-call local runs are not merged into the committed report');
  // Every scenario stack (API and workers, child workers included) is configured from it: test/reliability/setup.ts.
  process.env.MEMOIR_MODEL_CALL = modelCall;
  const only = values.soak ? ['worker-kill'] : values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const size: Size = values.fast ? 'fast' : 'full';
  const partial = (!!only && !values.merge) || size === 'fast';
  const outDir = values.out ?? (partial ? path.join(ROOT, '.data', 'chaos') : path.join(ROOT, 'docs'));

  await globalSetup(); // services up, workflow bundle built once for every stack
  const started = Date.now();
  const verdicts: Verdict[] = [];
  for (const scenario of SCENARIOS.filter((s) => !only || only.includes(s.name))) {
    process.stderr.write(`chaos: ${scenario.name} (${values.soak ? 'soak' : size})…\n`);
    const verdict = await runOne(scenario, size, values.soak, kills, second);
    verdicts.push(verdict);
    process.stderr.write(
      `chaos: ${scenario.name}: ${verdict.passed ? 'pass' : 'FAIL'} — ${verdict.answered}/${verdict.attempted} answered, ` +
        `${verdict.degraded} degraded, ${verdict.lost} lost, ${verdict.duplicated} duplicated, ` +
        `${(verdict.durationMs / 1000).toFixed(0)} s${verdict.failures.length ? `\n  ${verdict.failures.join('\n  ')}` : ''}\n`,
    );
  }
  const mode = values.soak
    ? `soak (worker killed ${kills ?? 500} times)`
    : `${size}${only ? ` (${values.merge ? 're-ran' : 'only'} ${only.join(', ')}${kills ? ` with ${kills} kills` : ''}${values.alternate ? ', workers killed in turn' : ''})` : ''}`;
  const modeWithCall = modelCall === 'local' ? `${mode}, model call local (MEMOIR_MODEL_CALL=local)` : mode;
  const prov = provenance(modeWithCall, Date.now() - started);
  const report = values.merge ? mergedInto(path.join(outDir, 'reliability.json'), verdicts) : verdicts;
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'reliability.md'), renderReport(prov, report));
  fs.writeFileSync(
    path.join(outDir, 'reliability.json'),
    `${JSON.stringify({ ...prov, verdicts: report }, null, 2)}\n`,
  );
  process.stderr.write(`chaos: wrote ${path.relative(ROOT, outDir)}/reliability.md and reliability.json\n`);
  if (verdicts.some((v) => !v.passed)) process.exitCode = 1;
  if (size === 'full' && !only && prov.totalMs > SUITE_LIMIT_MS) {
    process.stderr.write(
      `chaos: the suite took ${(prov.totalMs / 60_000).toFixed(1)} min, over its ${SUITE_LIMIT_MS / 60_000}-minute limit\n`,
    );
    process.exitCode = 1;
  }
}

/** The header comment's examples, for `--help`. */
function usage(): string {
  const source = fs.readFileSync(__filename, 'utf8');
  const header = /\/\*\*\n([\s\S]*?)\*\//.exec(source)?.[1] ?? '';
  return `${header.replace(/^ \*( |$)/gm, '')}\n`;
}

/**
 * The committed report's verdicts with the fresh ones in their place, in suite order; each carried-over verdict
 * keeps the date and commit of the run it came from.
 */
function mergedInto(file: string, fresh: Verdict[]): Verdict[] {
  const previous = JSON.parse(fs.readFileSync(file, 'utf8')) as Provenance & { verdicts: Verdict[] };
  return SCENARIOS.flatMap((s) => {
    const v = fresh.find((f) => f.scenario === s.title) ?? previous.verdicts.find((p) => p.scenario === s.title);
    if (!v) return [];
    if (fresh.includes(v) || v.ranAt) return [v];
    return [{ ...v, ranAt: { date: previous.date, commit: previous.commit } }];
  });
}

run()
  .catch((err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  // Scenario stacks close their connections, but a scenario cut off by its time limit may leave some open.
  .finally(() => process.exit());
