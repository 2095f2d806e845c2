/**
 * Tuning the recall gate (src/context/recall-gate.ts) on LoCoMo: the gate's signal for every turn as it was fed
 * (read from the turn's manifest) and for every question (a preview as a turn would get it). A good threshold keeps
 * the gate open for the questions — messages that do need old turns — and closed for most of the dialogue.
 */
import type { MdTable } from './suite';

export interface GateSample {
  sampleId: string;
  score: number;
  /** Questions only: the LoCoMo category (1-4 answerable, 5 adversarial). */
  category?: number;
  /** Questions only: was every evidence turn in the turn-mode context? */
  strict?: boolean;
}

export const GATE_THRESHOLDS = [0, 2, 3, 4, 5, 6, 7, 8, 10, 12];

const share = (xs: GateSample[], t: number) => (xs.length ? xs.filter((x) => x.score >= t).length / xs.length : NaN);

/** Per threshold: share of questions (categories 1–4) the gate lets through, and of fed turns. */
export function gateTable(turns: GateSample[], questions: GateSample[], inUse: number): MdTable {
  const answerable = questions.filter((q) => (q.category ?? 5) <= 4);
  const convs = [...new Set(answerable.map((q) => q.sampleId))];
  const pct = (v: number) => (Number.isFinite(v) ? (v * 100).toFixed(1) : '–');
  const ts = [...new Set([...GATE_THRESHOLDS, inUse])].sort((a, b) => a - b);
  return {
    columns: ['threshold', 'questions 1–4 open %', 'per-conversation range', 'fed turns open %'],
    rows: ts.map((t) => {
      const per = convs.map((c) =>
        share(
          answerable.filter((q) => q.sampleId === c),
          t,
        ),
      );
      return [
        `${t}${t === inUse ? ' (in use)' : ''}`,
        pct(share(answerable, t)),
        per.length > 1 ? `${pct(Math.min(...per))}–${pct(Math.max(...per))}` : '–',
        pct(share(turns, t)),
      ];
    }),
  };
}
