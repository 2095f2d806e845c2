/**
 * Turns what the clients saw and what reconciliation found into a verdict. The checks every scenario shares live
 * here; a scenario adds its own (indexing caught up, attempts bounded...) through `checks`.
 */
import type { TurnLog } from './driver';
import type { Reconciliation } from './reconcile';
import { Checks, type Size, type Verdict } from './verdict';

export interface JudgeInput {
  scenario: string;
  size: Size;
  load: string;
  faults: string;
  parameters: Record<string, number | string>;
  startedAt: number;
  log: TurnLog;
  rec: Reconciliation;
  checks?: Checks;
  notes?: string[];
  /** What the API logged behind its 500 answers (`ScenarioStack.serverErrors()`). */
  serverErrors?: string[];
  metrics?: Record<string, number | string>;
}

/** The `p`-th percentile (0–100) of `values`, nearest rank; 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function judge(i: JudgeInput): Verdict {
  const checks = i.checks ?? new Checks();
  const { rec, log } = i;
  checks.check(rec.lost === 0, `${rec.lost} accepted turns lost`);
  checks.check(rec.duplicated === 0, `${rec.duplicated} duplicated rows or replies`);
  checks.check(rec.orderViolations === 0, `${rec.orderViolations} order violations`);
  checks.check(rec.totalsMismatches === 0, `${rec.totalsMismatches} totals that do not match llm_calls`);
  checks.check(rec.answered === rec.attempted, `${rec.attempted - rec.answered} of ${rec.attempted} turns unanswered`);
  const fatal = log.turns.filter((t) => t.fatal);
  checks.check(fatal.length === 0, `${fatal.length} turns refused for good (${fatal[0]?.fatal ?? ''})`);
  const undocumented = log.undocumented();
  const undocumentedCount = Object.values(undocumented).reduce((a, b) => a + b, 0);
  checks.check(
    undocumentedCount === 0,
    `clients saw ${undocumentedCount} undocumented errors: ${Object.entries(undocumented)
      .map(([code, n]) => `${n} × ${code}`)
      .join(', ')}`,
  );
  const latencies = log.latencies();
  return {
    scenario: i.scenario,
    size: i.size,
    load: i.load,
    faults: i.faults,
    attempted: rec.attempted,
    answered: rec.answered,
    degraded: rec.degraded,
    lost: rec.lost,
    duplicated: rec.duplicated,
    passed: checks.failures.length === 0,
    failures: checks.failures,
    notes: [...(i.notes ?? []), ...(i.serverErrors ?? []), ...rec.problems.slice(0, 10)],
    metrics: {
      'turn latency p50 ms': Math.round(percentile(latencies, 50)),
      'turn latency p99 ms': Math.round(percentile(latencies, 99)),
      'turn latency max ms': Math.round(percentile(latencies, 100)),
      'client-visible answers other than a reply': [...log.codes].map(([c, n]) => `${n} × ${c}`).join(', ') || 'none',
      'stored though never acknowledged': rec.storedUnacknowledged,
      'conversations not settled in time': rec.unsettled,
      ...i.metrics,
    },
    parameters: i.parameters,
    durationMs: Date.now() - i.startedAt,
  };
}
