/**
 * LoCoMo (Maharana et al., ACL 2024; snap-research/LoCoMo, CC BY-NC 4.0): loading, normalising the evidence ids,
 * and the metric — evidence recall of an assembled context at a token budget (tokens = characters / 4).
 */
import fs from 'node:fs';
import { MONTHS } from '../../src/context/recall-ranking';

export const CATEGORIES: Record<number, string> = {
  1: 'multi-hop',
  2: 'temporal',
  3: 'open-domain',
  4: 'single-hop',
  5: 'adversarial',
};

export interface LocomoTurn {
  diaId: string;
  session: number;
  speaker: string;
  /** The line as a message carries it: the text, and `[shares photo: <caption>]` for an image turn. */
  text: string;
}

export interface LocomoSession {
  n: number;
  dateTime: string;
  turns: LocomoTurn[];
}

export interface LocomoQuestion {
  question: string;
  category: number;
  evidence: string[];
}

export interface LocomoConversation {
  sampleId: string;
  speakerA: string;
  speakerB: string;
  sessions: LocomoSession[];
  turns: LocomoTurn[];
  questions: LocomoQuestion[];
  /** Evidence ids that were malformed and fixed, or dropped. */
  evidenceFixes: { fixed: number; dropped: number; questionsSkipped: number };
}

interface RawTurn {
  speaker: string;
  dia_id: string;
  text: string;
  blip_caption?: string;
}

interface RawSample {
  sample_id: string;
  conversation: Record<string, unknown> & { speaker_a: string; speaker_b: string };
  qa: { question: string; category: number; evidence?: string[] }[];
}

/** `D8:6; D9:17` → two ids, `D:11:26` → `D11:26`, `D30:05` → `D30:5`; anything else unparseable is dropped. */
export function normaliseEvidence(raw: string): string[] {
  return raw
    .split(/[;,\s]+/)
    .map((s) => /^D:?(\d+):0*(\d+)$/.exec(s.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `D${Number(m[1])}:${Number(m[2])}`);
}

export function turnText(t: RawTurn): string {
  return t.blip_caption ? `${t.text} [shares photo: ${t.blip_caption}]` : t.text;
}

export function loadLocomo(file: string): LocomoConversation[] {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as RawSample[];
  return raw.map((sample) => {
    const conv = sample.conversation;
    const sessions: LocomoSession[] = [];
    for (const key of Object.keys(conv)) {
      const m = /^session_(\d+)$/.exec(key);
      if (!m || !Array.isArray(conv[key]) || (conv[key] as unknown[]).length === 0) continue;
      const n = Number(m[1]);
      const dateTime = conv[`session_${n}_date_time`];
      sessions.push({
        n,
        dateTime: typeof dateTime === 'string' ? dateTime : '',
        turns: (conv[key] as RawTurn[]).map((t) => ({
          diaId: t.dia_id,
          session: n,
          speaker: t.speaker,
          text: turnText(t),
        })),
      });
    }
    sessions.sort((a, b) => a.n - b.n);
    const turns = sessions.flatMap((s) => s.turns);
    const known = new Set(turns.map((t) => t.diaId));
    const fixes = { fixed: 0, dropped: 0, questionsSkipped: 0 };
    const questions: LocomoQuestion[] = [];
    for (const q of sample.qa) {
      const evidence: string[] = [];
      for (const e of q.evidence ?? []) {
        const ids = normaliseEvidence(e);
        if (ids.length !== 1 || ids[0] !== e) fixes.fixed++;
        for (const id of ids) {
          if (known.has(id) && !evidence.includes(id)) evidence.push(id);
          else if (!known.has(id)) fixes.dropped++;
        }
      }
      if (evidence.length === 0) {
        fixes.questionsSkipped++;
        continue;
      }
      questions.push({ question: q.question, category: q.category, evidence });
    }
    return {
      sampleId: sample.sample_id,
      speakerA: conv.speaker_a,
      speakerB: conv.speaker_b,
      sessions,
      turns,
      questions,
      evidenceFixes: fixes,
    };
  });
}

/** A session date as the dataset writes it (`1:56 pm on 8 May, 2023`) as an ISO timestamp (UTC), or undefined. */
export function sessionTimestamp(dateTime: string): string | undefined {
  const m = /^(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})$/i.exec(dateTime.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[5]!.toLowerCase());
  if (month < 0) return undefined;
  const hour = (Number(m[1]) % 12) + (m[3]!.toLowerCase() === 'pm' ? 12 : 0);
  return new Date(Date.UTC(Number(m[6]), month, Number(m[4]), hour, Number(m[2]))).toISOString();
}

/** Tokens as the dataset's metric counts them. */
export const budgetTokens = (text: string) => Math.ceil(text.length / 4);

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

export interface Recall {
  /** All of the question's evidence turns are in the context. */
  strict: boolean;
  /** Share of its evidence turns that are. */
  fraction: number;
}

/** Which evidence turns' text appears in a context (whitespace-insensitive). */
export function evidenceRecall(context: string, evidence: LocomoTurn[]): Recall {
  const hay = squash(context);
  const hits = evidence.filter((t) => hay.includes(squash(t.text))).length;
  return { strict: hits === evidence.length, fraction: evidence.length ? hits / evidence.length : 0 };
}

/** Pooled recall per category over many questions: strict share and mean fraction, with n. */
export interface CategoryRecall {
  n: number;
  strict: number;
  mean: number;
}

export function pool(items: { category: number; recall: Recall }[]): Record<string, CategoryRecall> {
  const groups: Record<string, { category: number; recall: Recall }[]> = { 'all 1-4': [] };
  for (const it of items) {
    (groups[CATEGORIES[it.category] ?? `category ${it.category}`] ??= []).push(it);
    if (it.category !== 5) groups['all 1-4']!.push(it);
  }
  return Object.fromEntries(
    Object.entries(groups).map(([k, v]) => [
      k,
      {
        n: v.length,
        strict: v.length ? v.filter((x) => x.recall.strict).length / v.length : NaN,
        mean: v.length ? v.reduce((t, x) => t + x.recall.fraction, 0) / v.length : NaN,
      },
    ]),
  );
}
