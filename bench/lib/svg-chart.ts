/**
 * Line and bar charts as plain SVG text: axes with nice ticks, axis labels, a legend, optional error bars (the
 * spread of repeated runs), and a footer that records where the figure came from (commit, machine, parameters).
 * No dependencies; a browser or any image viewer shows the files.
 */

export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#E69F00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];

const FONT = `font-family="Helvetica, Arial, sans-serif"`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r1 = (v: number) => Math.round(v * 10) / 10;
const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

export interface ChartFrame {
  title: string;
  subtitle?: string;
  /** Provenance lines printed small under the chart. */
  footer: string[];
  width?: number;
  height?: number;
}

export interface LineSeries {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** Whisker ends per point (e.g. min and max of the repeated runs), drawn as vertical bars. */
  spread?: [number, number][];
  /** Draw a dot at each point (default: when there are few points). */
  markers?: boolean;
  color?: string;
}

export interface LineChartSpec extends ChartFrame {
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  xLog?: boolean;
  yLog?: boolean;
  /** Force the y axis to start at this value (default 0 for linear axes). */
  yMin?: number;
  yMax?: number;
}

export interface BarSeries {
  name: string;
  values: (number | null)[];
  /** Error bar ends (e.g. min and max of the repeated runs). */
  lo?: (number | null)[];
  hi?: (number | null)[];
  color?: string;
}

export interface BarChartSpec extends ChartFrame {
  yLabel: string;
  categories: string[];
  series: BarSeries[];
  /** Stack the series in each category instead of placing them side by side. */
  stacked?: boolean;
  /** Print each bar's value above it, with this formatter. */
  valueLabel?: (v: number) => string;
  yMax?: number;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function logTicks(lo: number, hi: number): number[] {
  const within = (mantissas: number[]) => {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(6));
        if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
      }
    }
    return ticks;
  };
  const coarse = within([1, 2, 5]);
  return coarse.length >= 4 ? coarse : within([1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9]);
}

/** Short tick text: 1.5k, 2M, 0.25. */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a === 0) return '0';
  if (a < 0.01) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

interface Layout {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Legend items flowed left to right, wrapping at the chart's right edge. */
function legendLayout(names: string[], left: number, right: number) {
  const pos: { x: number; row: number }[] = [];
  let x = left;
  let row = 0;
  for (const name of names) {
    const w = 40 + name.length * 6.4;
    if (x > left && x + w > right) {
      x = left;
      row++;
    }
    pos.push({ x, row });
    x += w;
  }
  return { pos, rows: names.length ? row + 1 : 0 };
}

function frame(spec: ChartFrame, legend: { name: string; color: string; dashed?: boolean }[]) {
  const w = spec.width ?? 820;
  const h = spec.height ?? 480;
  const footerH = spec.footer.length * 13 + 8;
  const left = 76;
  const flow = legendLayout(
    legend.map((l) => l.name),
    left,
    w - 24,
  );
  const legendTop = 44 + (spec.subtitle ? 16 : 0);
  const top = legendTop + flow.rows * 18 + 6;
  const layout: Layout = { w, h, left, right: w - 24, top, bottom: h - 46 - footerH };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ${FONT}>`,
    `<rect width="${w}" height="${h}" fill="#ffffff"/>`,
    `<text x="${layout.left}" y="24" font-size="16" font-weight="bold" fill="#222">${esc(spec.title)}</text>`,
  ];
  if (spec.subtitle)
    parts.push(`<text x="${layout.left}" y="42" font-size="12" fill="#555">${esc(spec.subtitle)}</text>`);
  legend.forEach((l, i) => {
    const { x, row } = flow.pos[i]!;
    const y = legendTop + 14 + row * 18;
    parts.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${l.color}" stroke-width="${l.dashed ? 2 : 4}"${l.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${x + 28}" y="${y}" font-size="12" fill="#222">${esc(l.name)}</text>`,
    );
  });
  spec.footer.forEach((line, i) => {
    parts.push(`<text x="8" y="${h - footerH + 12 + i * 13}" font-size="10" fill="#777">${esc(line)}</text>`);
  });
  return { layout, parts };
}

function yAxis(parts: string[], l: Layout, ticks: number[], y: (v: number) => number, label: string) {
  for (const t of ticks) {
    const yy = r1(y(t));
    parts.push(
      `<line x1="${l.left}" y1="${yy}" x2="${l.right}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${l.left - 6}" y="${yy + 4}" font-size="11" text-anchor="end" fill="#444">${tickLabel(t)}</text>`,
    );
  }
  const mid = (l.top + l.bottom) / 2;
  parts.push(
    `<line x1="${l.left}" y1="${l.top}" x2="${l.left}" y2="${l.bottom}" stroke="#333"/>`,
    `<text x="16" y="${mid}" font-size="12" fill="#222" text-anchor="middle" transform="rotate(-90 16 ${mid})">${esc(label)}</text>`,
  );
}

export function lineChart(spec: LineChartSpec): string {
  const series = spec.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const { layout: l, parts } = frame(spec, series);
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter((v) => !spec.xLog || v > 0);
  const ys = series
    .flatMap((s) => [...s.points.map((p) => p[1]), ...(s.spread ?? []).flat()])
    .filter((v) => Number.isFinite(v) && (!spec.yLog || v > 0));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const yLo = spec.yMin ?? (spec.yLog ? Math.min(...ys) : Math.min(0, ...ys));
  const yHi = spec.yMax ?? (ys.length ? Math.max(...ys) : 1);
  const xTicks = spec.xLog ? logTicks(xMin, xMax) : niceTicks(xMin, xMax, 8);
  const yTicks = spec.yLog ? logTicks(yLo, yHi) : niceTicks(yLo, yHi * 1.05, 5);
  const x0 = spec.xLog ? Math.log10(xMin) : Math.min(xMin, xTicks[0]!);
  const x1 = spec.xLog ? Math.log10(xMax) : Math.max(xMax, xTicks.at(-1)!);
  const y0 = spec.yLog ? Math.log10(yTicks[0] ?? yLo) : Math.min(yLo, yTicks[0]!);
  const y1 = spec.yLog ? Math.log10(Math.max(yHi, yTicks.at(-1) ?? yHi)) : Math.max(yHi, yTicks.at(-1)!);
  const x = (v: number) =>
    l.left + (((spec.xLog ? Math.log10(v) : v) - x0) / (x1 - x0 || 1)) * (l.right - l.left - 10) + 5;
  const y = (v: number) => l.bottom - (((spec.yLog ? Math.log10(v) : v) - y0) / (y1 - y0 || 1)) * (l.bottom - l.top);
  yAxis(parts, l, yTicks, y, spec.yLabel);
  for (const t of xTicks) {
    const xx = r1(x(t));
    parts.push(
      `<line x1="${xx}" y1="${l.bottom}" x2="${xx}" y2="${l.bottom + 5}" stroke="#333"/>`,
      `<text x="${xx}" y="${l.bottom + 18}" font-size="11" text-anchor="middle" fill="#444">${tickLabel(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${l.left}" y1="${l.bottom}" x2="${l.right}" y2="${l.bottom}" stroke="#333"/>`,
    `<text x="${(l.left + l.right) / 2}" y="${l.bottom + 36}" font-size="12" text-anchor="middle" fill="#222">${esc(spec.xLabel)}</text>`,
  );
  for (const [si, s] of series.entries()) {
    const pts = s.points.filter(([px, py]) => Number.isFinite(py) && (!spec.xLog || px > 0) && (!spec.yLog || py > 0));
    if (pts.length === 0) continue;
    const d = pts.map(([px, py], i) => `${i ? 'L' : 'M'}${r1(x(px))},${r1(y(py))}`).join('');
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const [i, [lo, hi]] of (s.spread ?? []).entries()) {
      const px = s.points[i]?.[0];
      if (px === undefined || !(hi > lo) || (spec.yLog && lo <= 0)) continue;
      // Side by side, so that the whiskers of series sharing an x stay apart.
      const xx = r1(x(px) + (si - (series.length - 1) / 2) * 5);
      parts.push(
        `<line x1="${xx}" y1="${r1(y(lo))}" x2="${xx}" y2="${r1(y(hi))}" stroke="${s.color}" stroke-width="1.2"/>`,
        `<line x1="${xx - 4}" y1="${r1(y(lo))}" x2="${xx + 4}" y2="${r1(y(lo))}" stroke="${s.color}"/>`,
        `<line x1="${xx - 4}" y1="${r1(y(hi))}" x2="${xx + 4}" y2="${r1(y(hi))}" stroke="${s.color}"/>`,
      );
    }
    if (s.markers ?? pts.length <= 20) {
      for (const [px, py] of pts) parts.push(`<circle cx="${r1(x(px))}" cy="${r1(y(py))}" r="3.5" fill="${s.color}"/>`);
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export function barChart(spec: BarChartSpec): string {
  const series = spec.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const { layout: l, parts } = frame(spec, series);
  const n = spec.categories.length;
  const tops = spec.stacked
    ? spec.categories.map((_, c) => series.reduce((t, s) => t + (s.values[c] ?? 0), 0))
    : series.flatMap((s) => s.values.map((v, c) => Math.max(v ?? 0, s.hi?.[c] ?? 0)));
  const yHi = spec.yMax ?? Math.max(1e-9, ...tops);
  const yTicks = niceTicks(0, yHi * 1.08, 5);
  const yTop = Math.max(yHi * 1.08, yTicks.at(-1)!);
  const y = (v: number) => l.bottom - (v / yTop) * (l.bottom - l.top);
  yAxis(parts, l, yTicks, y, spec.yLabel);
  const slot = (l.right - l.left) / Math.max(n, 1);
  const inner = slot * 0.78;
  const barW = spec.stacked ? inner : inner / Math.max(series.length, 1);
  spec.categories.forEach((cat, c) => {
    const cx = l.left + slot * c + slot / 2;
    // A label may have two lines ("4k\nsingle-hop"): the second names a group of neighbouring bars.
    cat
      .split('\n')
      .forEach((line, k) =>
        parts.push(
          `<text x="${r1(cx)}" y="${l.bottom + 16 + k * 14}" font-size="${k ? 12 : 11}" text-anchor="middle" fill="#222"${k ? ' font-weight="bold"' : ''}>${esc(line)}</text>`,
        ),
      );
    let stackBase = 0;
    series.forEach((s, i) => {
      const v = s.values[c];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const bx = spec.stacked ? cx - inner / 2 : cx - inner / 2 + i * barW;
      const base = spec.stacked ? stackBase : 0;
      const yTopV = y(base + v);
      const hgt = Math.max(0, y(base) - yTopV);
      parts.push(
        `<rect x="${r1(bx + 1)}" y="${r1(yTopV)}" width="${r1(barW - 2)}" height="${r1(hgt)}" fill="${s.color}"><title>${esc(`${s.name} · ${cat.replace('\n', ' ')}: ${v}`)}</title></rect>`,
      );
      const lo = s.lo?.[c];
      const hi = s.hi?.[c];
      const mid = r1(bx + barW / 2);
      if (!spec.stacked && finite(lo) && finite(hi) && hi > lo) {
        parts.push(
          `<line x1="${mid}" y1="${r1(y(lo))}" x2="${mid}" y2="${r1(y(hi))}" stroke="#222" stroke-width="1.2"/>`,
          `<line x1="${mid - 4}" y1="${r1(y(lo))}" x2="${mid + 4}" y2="${r1(y(lo))}" stroke="#222"/>`,
          `<line x1="${mid - 4}" y1="${r1(y(hi))}" x2="${mid + 4}" y2="${r1(y(hi))}" stroke="#222"/>`,
        );
      }
      if (spec.valueLabel && !spec.stacked) {
        const above = finite(hi) ? Math.max(hi, v) : v;
        parts.push(
          `<text x="${mid}" y="${r1(y(above) - 4)}" font-size="10" text-anchor="middle" fill="#333">${esc(spec.valueLabel(v))}</text>`,
        );
      }
      stackBase += v;
    });
    if (spec.stacked && spec.valueLabel) {
      parts.push(
        `<text x="${r1(cx)}" y="${r1(y(stackBase) - 4)}" font-size="10" text-anchor="middle" fill="#333">${esc(spec.valueLabel(stackBase))}</text>`,
      );
    }
  });
  parts.push(`<line x1="${l.left}" y1="${l.bottom}" x2="${l.right}" y2="${l.bottom}" stroke="#333"/>`, '</svg>');
  return parts.join('\n');
}
