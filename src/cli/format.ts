/**
 * Small text formatting shared by the inspection verbs: aligned tables, token counts, money, ratios.
 */

/**
 * Columns padded to their widest cell; unless told otherwise, numbers (cells starting with a digit, `$` or `-`)
 * align right, except in the first column.
 */
export function table(header: string[], rows: string[][], opts: { alignNumbers?: boolean } = {}): string {
  const right = opts.alignNumbers ?? true;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right && i > 0 && /^[\d$-]/.test(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** 950 → "950", 1234 → "1.2k", 2_500_000 → "2.5M". */
export function tokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
}

/** `1 turn`, `2 turns`. */
export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export const usd = (n: number): string => `$${n.toFixed(6)}`;

export const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;

/** An ISO timestamp as `2026-11-26 04:27:41` (UTC), or `—`. */
export function when(iso: string | Date | null | undefined): string {
  if (!iso) return '—';
  const text = typeof iso === 'string' ? iso : iso.toISOString();
  return text.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

/** Indents every line of a block of text. */
export const indent = (text: string, by = '    '): string =>
  text
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');
