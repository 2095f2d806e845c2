/**
 * What a fault scenario hands back: the load it ran, the faults it injected, and what reconciliation against
 * PostgreSQL found. `passed` is the scenario's own verdict; `failures` says why not.
 */

/** Full size for `scripts/chaos.ts`; the fast subset that runs inside `make test`. */
export type Size = 'full' | 'fast';

export interface Verdict {
  scenario: string;
  size: Size;
  /** The load, in words: conversations, turns, rate. */
  load: string;
  /** The faults injected, in words, with counts. */
  faults: string;
  /** Distinct messageIds the clients sent. */
  attempted: number;
  /** Accepted messageIds with exactly one user row and one assistant row (real or degraded). */
  answered: number;
  /** Of those, answered with a degraded reply. */
  degraded: number;
  /** Accepted messageIds missing their user row or their reply. */
  lost: number;
  /** Rows beyond one user row and one reply per sent messageId. */
  duplicated: number;
  passed: boolean;
  /** Each failed check, in words. */
  failures: string[];
  notes: string[];
  /** Scenario-specific figures: latencies, attempt counts, client-visible errors by code. */
  metrics: Record<string, number | string>;
  /** Parameters the scenario ran with (environment, sizes). */
  parameters: Record<string, number | string>;
  durationMs: number;
  /**
   * Set on a verdict carried over from an earlier run by `scripts/chaos.ts --merge` (which re-ran other scenarios):
   * when and at which commit this one ran.
   */
  ranAt?: { date: string; commit: string };
}

/** Collects failed checks for a verdict: `check(ok, message)` records the message when `ok` is false. */
export class Checks {
  readonly failures: string[] = [];
  check(ok: boolean, message: string): void {
    if (!ok) this.failures.push(message);
  }
}
