/**
 * The contract between the runner and a measurement: a suite gets the run's context (mode, repeats, the offline
 * model, provenance) and returns its numbers, the Markdown it wants in the summary, and its charts.
 */
import type { Provenance } from './machine';
import { provenanceLine } from './machine';
import type { BenchInfra } from './infra';
import type { BenchModel, ModelPace } from './offline';

export type Mode = 'smoke' | 'quick' | 'full';

export interface SuiteContext {
  mode: Mode;
  /** Runs per figure: each reported figure is the median of this many. */
  repeats: number;
  model: BenchModel;
  bundlePath: string;
  /**
   * Temporal and PostgreSQL for the latency suites (overhead, scale, peer): by default the durable configuration
   * users run, of the run's own (bench/lib/infra.ts). The other suites keep the test services.
   */
  infra: BenchInfra;
  /** The streaming pace of the "like a real model" measurements (BENCH_MODEL_PACE). */
  pace: ModelPace;
  provenance: Provenance;
  /** Progress for the person waiting. */
  log(message: string): void;
}

export interface MdTable {
  columns: string[];
  rows: string[][];
}

export type Section =
  | { kind: 'text'; text: string }
  | { kind: 'table'; caption?: string; table: MdTable }
  | { kind: 'chart'; file: string; alt: string };

export interface Headline {
  label: string;
  value: string;
}

export interface SuiteOutput {
  /** What the suite ran with (counts, durations, budgets...): recorded beside its numbers. */
  params: Record<string, unknown>;
  /** Every number, for latest.json. */
  data: Record<string, unknown>;
  headlines: Headline[];
  sections: Section[];
  charts: { file: string; svg: string }[];
  notes?: string[];
}

export interface SuiteResult extends Partial<SuiteOutput> {
  id: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  /** Why it was skipped or how it failed. */
  reason?: string;
  durationSec: number;
}

export interface Suite {
  id: string;
  title: string;
  run(ctx: SuiteContext): Promise<SuiteOutput | { skipped: string; partial?: SuiteOutput }>;
}

/** Thrown (or returned as `skipped`) when a suite cannot run here; the run goes on without it. */
export class SuiteSkipped extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Footer lines of a figure: provenance, then the parameters it was measured with. */
export function footer(ctx: SuiteContext, params: Record<string, unknown>, repeatsNote?: string): string[] {
  const kv = Object.entries(params)
    .filter(([, v]) => v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`);
  const lines = [provenanceLine(ctx.provenance, ctx.mode)];
  let line = 'params: ';
  for (const item of kv) {
    if (line.length + item.length > 128) {
      lines.push(line.trimEnd());
      line = '  ';
    }
    line += `${item} `;
  }
  lines.push(line.trimEnd());
  lines.push(repeatsNote ?? `each point: median of ${ctx.repeats} runs; whiskers/brackets: min–max of the runs`);
  return lines;
}
