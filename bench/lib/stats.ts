/**
 * Percentiles, and the "median of R runs with its spread" that every reported figure is.
 */

/** The q-quantile (0..1) of values, linearly interpolated between order statistics (Hyndman–Fan type 7). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (values: readonly number[]) => quantile(values, 0.5);
export const mean = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
export const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  return {
    n: values.length,
    p50: quantile(values, 0.5),
    p95: quantile(values, 0.95),
    p99: quantile(values, 0.99),
    mean: mean(values),
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/** One figure measured in R runs: the median is reported, min and max beside it, every run kept. */
export interface Repeated {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function repeated(runs: readonly number[]): Repeated {
  const finite = runs.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [...runs] };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), runs: [...runs] };
}

/** For each key of the per-run records, the repeated figure across runs. */
export function repeatedBy<K extends string>(runs: readonly Record<K, number>[], keys: readonly K[]) {
  return Object.fromEntries(keys.map((k) => [k, repeated(runs.map((r) => r[k]))])) as Record<K, Repeated>;
}

/** A number for a table: fixed decimals chosen by magnitude unless given. */
export function fmt(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return '–';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3);
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** `median [min–max]`, the form every repeated figure is printed in. */
export function fmtRepeated(r: Repeated, digits?: number, unit = ''): string {
  const [lo, hi] = [fmt(r.min, digits), fmt(r.max, digits)];
  if (r.runs.length <= 1 || lo === hi) return `${fmt(r.median, digits)}${unit}`;
  return `${fmt(r.median, digits)}${unit} [${lo}–${hi}]`;
}

/** Least-squares slope of y on x. */
export function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}
