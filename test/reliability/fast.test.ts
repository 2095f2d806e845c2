/**
 * The fast subset of the reliability suite, run by `make test` on every change: the worker killed mid-turn,
 * Redis down and back, a model storm of 50% overloaded calls, and PostgreSQL down and back — each judged by reconciliation against
 * PostgreSQL. Each test's timeout lies past its scenario's own bounds (run deadline, then settling), so a failure is
 * the scenario's verdict, not a timeout. `make chaos` (scripts/chaos.ts) runs every scenario at full size and writes docs/reliability.md.
 */
import { memoryOutage } from './scenarios/memory-outage';
import { modelStorm } from './scenarios/model-storm';
import { postgresOutage } from './scenarios/postgres-outage';
import { workerKill } from './scenarios/worker-kill';
import type { Verdict } from './verdict';

/** A failed verdict shows its failures and notes in the assertion message. */
function expectPassed(v: Verdict): void {
  expect({ scenario: v.scenario, failures: v.failures, notes: v.failures.length ? v.notes : [] }).toEqual({
    scenario: v.scenario,
    failures: [],
    notes: [],
  });
  expect(v.answered).toBe(v.attempted);
  expect(v.lost).toBe(0);
  expect(v.duplicated).toBe(0);
}

it('worker killed 3 times during 30+ turns: every turn answered exactly once, totals reconcile', async () => {
  const v = await workerKill('fast');
  expectPassed(v);
  // Five conversations × six turns at least; lanes go on past that only while a kill is outstanding.
  expect(v.attempted).toBeGreaterThanOrEqual(30);
}, 480_000);

it('Redis down and back: turns answered and flagged, hot tier and index catch up', async () => {
  expectPassed(await memoryOutage('redis', 'fast'));
}, 360_000);

it('50% of model calls overloaded: real or degraded replies, attempts within the bound', async () => {
  expectPassed(await modelStorm('overload-529', 'fast'));
}, 360_000);

it('PostgreSQL down and back: turns wait or are refused with 503 unavailable, then complete; none degraded', async () => {
  expectPassed(await postgresOutage('fast'));
}, 360_000);
