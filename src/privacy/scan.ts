/**
 * The loop every detector shares: run a global regex, let a validator accept, move or reject each match.
 *
 * Hostile input is the design constraint. Every pattern handed to `scan` starts with a lookbehind that only
 * passes at a token boundary, so a run of a million letters or digits offers one start, not a million; and every
 * quantifier is bounded and separated from its neighbours by a delimiter, so backtracking per start is a small
 * constant. Together that keeps each detector linear in the input.
 */
import type { PiiType, Span } from './types';

/** What a validator returns: `true` keeps the whole match, a range keeps that part, anything else drops it. */
export type Verdict = boolean | { start: number; end: number } | undefined;

export function scan(text: string, re: RegExp, type: PiiType, accept: (m: RegExpExecArray) => Verdict): Span[] {
  if (!re.global) throw new Error(`scan needs a global regex: ${String(re)}`);
  const spans: Span[] = [];
  // matchAll clones the regex, so concurrent scans never share lastIndex.
  for (const m of text.matchAll(re)) {
    const verdict = accept(m);
    if (verdict === true) spans.push({ type, start: m.index, end: m.index + m[0].length });
    else if (verdict) spans.push({ type, ...verdict });
  }
  return spans;
}

/** Whether the `window` characters before `start` end with `context` (which should be anchored with `$`). */
export function precededBy(text: string, start: number, context: RegExp, window = 32): boolean {
  return context.test(text.slice(Math.max(0, start - window), start));
}

/** The digits of `s`, in order. */
export function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}
