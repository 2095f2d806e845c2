/**
 * 4. Memory recall on LoCoMo: each conversation goes through Memoir's real turn path (speaker A as the user; the
 * offline model answers with speaker B's recorded line, so the stored dialogue is the real one); then for every
 * question Memoir assembles its context at a budget (POST /v1/conversations/:id/context) and each evidence turn
 * counts as recalled when its text is in that context. Beside it, on the same data: the last turns that fit, and
 * BM25 over all turns.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bm25Turns, lastTurns, turnDocs, Bm25, type BaselineContext } from '../lib/baselines';
import { closedLoop, createConversation, sendTurn } from '../lib/load';
import {
  budgetTokens,
  CATEGORIES,
  evidenceRecall,
  loadLocomo,
  pool,
  sessionTimestamp,
  type CategoryRecall,
  type LocomoConversation,
  type Recall,
} from '../lib/locomo';
import { gateTable, type GateSample } from '../lib/gate';
import { promValue } from '../lib/prom';
import { startBenchStack, type BenchStack } from '../lib/stack';
import { fmt, mean } from '../lib/stats';
import { footer, type Mode, type Section, type Suite, type SuiteContext, type SuiteOutput } from '../lib/suite';
import { barChart, lineChart } from '../lib/svg-chart';

const ROOT = path.join(__dirname, '..', '..');
export const DEFAULT_LOCOMO_PATH = path.join(ROOT, '..', 'shared', 'bench-data', 'locomo', 'locomo-dev.json');
const BUDGETS = [2000, 4000, 8000];
const METHODS = [
  ['memoir', 'Memoir (defaults)'],
  ['memoir-recall', 'Memoir, recall-heavy (top k 60, recall share 0.9)'],
  ['bm25', 'BM25 over turns'],
  ['last', 'last turns that fit'],
] as const;
type Method = (typeof METHODS)[number][0];
const GROUPS = ['all 1-4', 'single-hop', 'multi-hop', 'temporal', 'open-domain'];
/** Reply stored when speaker A speaks twice in a row (or last): the turn path needs an answer. */
const NO_REPLY = '…';

const SELECTION: Record<Mode, { conversations: number; sessions?: number }> = {
  smoke: { conversations: 1, sessions: 3 },
  quick: { conversations: 1 },
  full: { conversations: Infinity },
};

interface Item {
  method: Method;
  budget: number;
  sampleId: string;
  category: number;
  recall: Recall;
  tokens: number;
  /** Memoir only: tokens of each tier of the assembled context (the preview's blocks). */
  tiers?: Record<string, number>;
}

/**
 * User turns and replies: each of A's lines with the B line that follows, each dated with its session's time
 * (`sentAt`), so Memoir knows when each line was said as the baselines' `[<session date>]` prefix does.
 */
export function exchanges(conv: LocomoConversation): Exchange[] {
  return sessionExchanges(conv).flat();
}

type Exchange = { user: string; reply: string; sentAt?: string };

/** `exchanges`, session by session. */
export function sessionExchanges(conv: LocomoConversation): Exchange[][] {
  return conv.sessions.map((s) => {
    const out: Exchange[] = [];
    const sentAt = sessionTimestamp(s.dateTime);
    // Without a parseable date the session's first user turn carries the date as text, as before.
    const dated = (text: string, i: number) => (sentAt || i !== 0 ? text : `[${s.dateTime}] ${text}`);
    const push = (user: string, reply: string) => out.push({ user, reply, ...(sentAt ? { sentAt } : {}) });
    let pending: string | undefined;
    s.turns.forEach((t, i) => {
      if (t.speaker === conv.speakerA) {
        if (pending !== undefined) push(pending, NO_REPLY);
        pending = dated(t.text, i);
      } else {
        push(pending ?? (i === 0 ? dated(NO_REPLY, 0).trim() : NO_REPLY), t.text);
        pending = undefined;
      }
    });
    if (pending !== undefined) push(pending, NO_REPLY);
    return out;
  });
}

function select(all: LocomoConversation[], mode: Mode): LocomoConversation[] {
  const wanted = process.env.LOCOMO_CONVERSATIONS?.split(',').map((s) => s.trim());
  const sel = SELECTION[mode];
  // A single conversation (quick, smoke) is the shortest one, to keep the first look quick.
  const byLength = [...all].sort((a, b) => a.turns.length - b.turns.length);
  const picked = wanted
    ? all.filter((c) => wanted.includes(c.sampleId))
    : sel.conversations === 1
      ? byLength.slice(0, 1)
      : all.slice(0, sel.conversations);
  if (!sel.sessions) return picked;
  return picked.map((c) => {
    const sessions = c.sessions.slice(0, sel.sessions);
    const turns = sessions.flatMap((s) => s.turns);
    const ids = new Set(turns.map((t) => t.diaId));
    return { ...c, sessions, turns, questions: c.questions.filter((q) => q.evidence.every((e) => ids.has(e))) };
  });
}

function baselineItems(convs: LocomoConversation[]): Item[] {
  const items: Item[] = [];
  for (const c of convs) {
    const docs = turnDocs(c);
    const index = new Bm25(docs);
    const byId = new Map(c.turns.map((t) => [t.diaId, t]));
    for (const budget of BUDGETS) {
      const last = lastTurns(docs, budget);
      for (const q of c.questions) {
        const evidence = q.evidence.map((e) => byId.get(e)!);
        const add = (method: Method, ctx: BaselineContext) =>
          items.push({
            method,
            budget,
            sampleId: c.sampleId,
            category: q.category,
            recall: evidenceRecall(ctx.text, evidence),
            tokens: ctx.tokens,
          });
        add('last', last);
        add('bm25', bm25Turns(index, docs, q.question, budget));
      }
    }
  }
  return items;
}

/** Is the context-preview endpoint there? `undefined` when it is, else why not. */
async function contextEndpointMissing(stack: BenchStack): Promise<string | undefined> {
  const id = await createConversation(stack, 'locomo-probe');
  const res = await stack.http('POST', `/v1/conversations/${id}/context`, { query: 'probe', budgetTokens: 2000 });
  if (res.status === 404 && /no route/i.test(String(res.body?.error?.message ?? ''))) {
    return 'Memoir has no context-preview endpoint yet (POST /v1/conversations/:id/context answered 404 "no route"); only the baselines were computed';
  }
  if (res.status !== 200) throw new Error(`context preview probe: ${res.status} ${JSON.stringify(res.body)}`);
  return undefined;
}

/** Waits (bounded) until the worker reports no message waiting to be indexed, when it reports it at all. */
async function indexed(stack: BenchStack, maxMs = 180_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const backlog = promValue(await stack.metrics('worker'), 'memoir_indexing_backlog');
    if (!backlog) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Tiers a preview had to go without, and how often: a recall figure measured without them is not Memoir's. */
const degraded = new Map<string, number>();
/** The recall gate's signal on every fed turn and every question (turn-mode preview), for its tuning table. */
const gateTurns: GateSample[] = [];
const gateQuestions: GateSample[] = [];
let gateInUse = 0;

/** The gate's signal of a fed turn, from its manifest. */
async function turnGate(stack: BenchStack, id: string, messageId: string): Promise<number | undefined> {
  const res = await stack.http('GET', `/v1/conversations/${id}/messages/${messageId}/context`);
  return res.status === 200 ? (res.body.recallGate?.score as number | undefined) : undefined;
}

async function memoirItems(ctx: SuiteContext, stack: BenchStack, convs: LocomoConversation[]): Promise<Item[]> {
  const items: Item[] = [];
  for (const c of convs) {
    // The speakers' names, as a user of the API would give them: recall labels lines with them (the baselines'
    // lines carry them too) and a question naming one favours that speaker's lines.
    const id = await createConversation(stack, `locomo-${c.sampleId}`, undefined, {
      user: c.speakerA,
      assistant: c.speakerB,
    });
    const ex = exchanges(c);
    ctx.log(`locomo: feeding ${c.sampleId} (${c.turns.length} lines as ${ex.length} turns)`);
    for (const e of ex) {
      const turn = await sendTurn(stack, ctx.model, id, e.user, e.reply, { mark: false, sentAt: e.sentAt });
      const score = await turnGate(stack, id, turn.messageId);
      if (score !== undefined) gateTurns.push({ sampleId: c.sampleId, score });
    }
    if (!(await stack.settled(id, 300_000)))
      ctx.log('locomo: memory upkeep still running after 5 minutes; asking anyway');
    await indexed(stack);
    ctx.log(`locomo: ${c.questions.length} questions × ${BUDGETS.length} budgets on ${c.sampleId}`);
    const byId = new Map(c.turns.map((t) => [t.diaId, t]));
    // Each question at each budget, with the deployment's defaults and with a recall-heavy profile (the preview
    // takes recall overrides, so one fed conversation serves both).
    const profiles = [
      { method: 'memoir' as const, recall: undefined },
      { method: 'memoir-recall' as const, recall: { topK: 60, share: 0.9 } },
    ];
    const asks = c.questions.flatMap((q) => BUDGETS.flatMap((budget) => profiles.map((p) => ({ q, budget, ...p }))));
    // Previews only read: a few at once.
    const loop = await closedLoop({ concurrency: 4, total: asks.length, maxMs: 900_000 }, async (_l, i) => {
      const { q, budget, method, recall } = asks[i]!;
      const res = await stack.http('POST', `/v1/conversations/${id}/context`, {
        query: q.question,
        budgetTokens: budget,
        ...(recall ? { recall } : {}),
      });
      if (res.status !== 200) throw new Error(`context preview: ${res.status} ${JSON.stringify(res.body)}`);
      const blocks = (res.body.blocks ?? []) as { text?: string; tier?: string; tokens?: number }[];
      const tiers: Record<string, number> = {};
      for (const b of blocks) if (b.tier) tiers[b.tier] = (tiers[b.tier] ?? 0) + (b.tokens ?? 0);
      const context = blocks.map((b) => b.text ?? '').join('\n');
      for (const tier of (res.body.degradedTiers ?? []) as string[]) degraded.set(tier, (degraded.get(tier) ?? 0) + 1);
      items.push({
        method,
        budget,
        sampleId: c.sampleId,
        category: q.category,
        recall: evidenceRecall(
          context,
          q.evidence.map((e) => byId.get(e)!),
        ),
        // Counted as the baselines are (characters / 4 of the text put in front of the model), not by Memoir's own
        // (calibrated) estimate, so no method gets a larger budget than another.
        tokens: budgetTokens(context),
        tiers,
      });
    });
    if (loop.errors.length) throw new Error(`context previews failed: ${loop.errors.slice(0, 3).join('; ')}`);
    if (loop.results.length !== asks.length) throw new Error('context previews did not finish in time');
    // Each question as a turn would see it (no explicit budget: gated, top k): the gate's signal and verdict.
    for (const q of c.questions) {
      const res = await stack.http('POST', `/v1/conversations/${id}/context`, { query: q.question });
      const gate = res.body?.recallGate as { score: number; threshold: number } | undefined;
      if (res.status !== 200 || !gate) continue;
      gateInUse = gate.threshold;
      const text = ((res.body.blocks ?? []) as { text?: string }[]).map((b) => b.text ?? '').join('\n');
      const strict = evidenceRecall(
        text,
        q.evidence.map((e) => byId.get(e)!),
      ).strict;
      gateQuestions.push({ sampleId: c.sampleId, score: gate.score, category: q.category, strict });
    }
  }
  return items;
}

interface Cell {
  recall: Record<string, CategoryRecall>;
  tokens: number;
  /** Mean tokens per tier over the questions of categories 1-4 (Memoir only). */
  tierTokens?: Record<string, number>;
  /** Strict recall (categories 1-4) of each conversation. */
  perConversation: Record<string, number>;
}

function cells(items: Item[]): Partial<Record<Method, Record<number, Cell>>> {
  const out: Partial<Record<Method, Record<number, Cell>>> = {};
  for (const [m] of METHODS) {
    for (const b of BUDGETS) {
      const mine = items.filter((i) => i.method === m && i.budget === b);
      if (mine.length === 0) continue;
      const perConversation: Record<string, number> = {};
      for (const sid of new Set(mine.map((i) => i.sampleId))) {
        perConversation[sid] = pool(mine.filter((i) => i.sampleId === sid))['all 1-4']!.strict;
      }
      const answerable = mine.filter((i) => i.category !== 5);
      const tierNames = [...new Set(answerable.flatMap((i) => Object.keys(i.tiers ?? {})))];
      (out[m] ??= {})[b] = {
        recall: pool(mine),
        tokens: mean(answerable.map((i) => i.tokens)),
        perConversation,
        ...(tierNames.length > 0
          ? {
              tierTokens: Object.fromEntries(tierNames.map((t) => [t, mean(answerable.map((i) => i.tiers?.[t] ?? 0))])),
            }
          : {}),
      };
    }
  }
  return out;
}

const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : fmt(v * 100, 1));

/** The reference table of the dataset's README, when the file is that README's split. */
function referenceTable(file: string, convs: LocomoConversation[]) {
  const readme = path.join(path.dirname(file), 'README.md');
  if (!fs.existsSync(readme)) return undefined;
  const text = fs.readFileSync(readme, 'utf8');
  const listed = /Conversations here: ([^(]+)/.exec(text)?.[1]?.match(/conv-\d+/g) ?? [];
  const ids = convs.map((c) => c.sampleId);
  if (listed.length === 0 || listed.length !== ids.length || !listed.every((id) => ids.includes(id))) return undefined;
  const rows: { method: Method; budget: number; values: Record<string, string[]> }[] = [];
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  const header =
    lines
      .find((l) => l.includes('method @ budget'))
      ?.split('|')
      .map((s) => s.trim()) ?? [];
  for (const line of lines) {
    const cellsOf = line.split('|').map((s) => s.trim());
    const m = /^(last turns that fit|BM25 over turns) @(\d+)$/.exec(cellsOf[1] ?? '');
    if (!m) continue;
    const values: Record<string, string[]> = {};
    header.forEach((h, i) => {
      if (i > 1 && h) values[h] = (cellsOf[i] ?? '').split('/').map((v) => v.trim());
    });
    rows.push({ method: m[1] === 'BM25 over turns' ? 'bm25' : 'last', budget: Number(m[2]), values });
  }
  return rows.length ? rows : undefined;
}

export const locomoSuite: Suite = {
  id: 'locomo',
  title: 'Memory recall on LoCoMo',
  async run(ctx) {
    const file = path.resolve(process.env.LOCOMO_PATH ?? DEFAULT_LOCOMO_PATH);
    if (!fs.existsSync(file)) {
      return {
        skipped:
          `no LoCoMo data at ${file}: download data/locomo10.json from github.com/snap-research/LoCoMo ` +
          '(CC BY-NC 4.0, never committed here) and set LOCOMO_PATH to it',
      };
    }
    const all = loadLocomo(file);
    const convs = select(all, ctx.mode);
    const params = {
      file: path.basename(file),
      conversations: convs.map((c) => c.sampleId).join(','),
      sessions: SELECTION[ctx.mode].sessions ?? 'all',
      lines: convs.reduce((t, c) => t + c.turns.length, 0),
      questions: convs.reduce((t, c) => t + c.questions.length, 0),
      budgets: BUDGETS.join(','),
      tokens: 'characters/4',
      bm25: 'k1=1.2 b=0.75',
    };
    const items = baselineItems(convs);
    const stack = await startBenchStack({ modelUrl: ctx.model.url, bundlePath: ctx.bundlePath });
    let memoirSkipped: string | undefined;
    try {
      memoirSkipped = await contextEndpointMissing(stack);
      if (!memoirSkipped) items.push(...(await memoirItems(ctx, stack, convs)));
    } finally {
      await stack.stop();
    }
    const reference = referenceTable(file, all);
    const referenceCheck = reference ? { rows: reference, ours: cells(baselineItems(all)) } : undefined;
    const out = report(ctx, params, cells(items), referenceCheck, memoirSkipped);
    if (degraded.size > 0) {
      out.notes = [
        ...(out.notes ?? []),
        `Some previews ran without a memory tier (degradedTiers): ${[...degraded].map(([t, n]) => `${t} ×${n}`).join(', ')}.`,
      ];
    }
    if (gateQuestions.length > 0) {
      const answerable = gateQuestions.filter((q) => (q.category ?? 5) <= 4);
      const strictTurn = answerable.filter((q) => q.strict).length / Math.max(1, answerable.length);
      out.sections.push(
        {
          kind: 'text',
          text:
            '**Recall gate** (`src/context/recall-gate.ts`): its signal — the best BM25 score outside the context — ' +
            'for every fed turn (from the turn’s manifest) and for every question asked as a turn would see it ' +
            `(no explicit budget: gated, top k). Threshold in use: ${gateInUse}. Strict recall of categories 1–4 ` +
            `in that turn-mode context (default budget, top k only): ${pct(strictTurn)} %.`,
        },
        {
          kind: 'table',
          caption: 'Share of messages the gate lets through, by threshold',
          table: gateTable(gateTurns, gateQuestions, gateInUse),
        },
      );
      out.data.recallGate = {
        threshold: gateInUse,
        turns: gateTurns,
        questions: gateQuestions,
        strictTurnMode: strictTurn,
      };
    }
    return memoirSkipped ? { skipped: memoirSkipped, partial: out } : out;
  },
};

function report(
  ctx: SuiteContext,
  params: Record<string, unknown>,
  byMethod: Partial<Record<Method, Record<number, Cell>>>,
  reference: { rows: NonNullable<ReturnType<typeof referenceTable>>; ours: ReturnType<typeof cells> } | undefined,
  memoirSkipped: string | undefined,
): SuiteOutput {
  const present = METHODS.filter(([m]) => byMethod[m]);
  const range = (c: Cell) => {
    const v = Object.values(c.perConversation);
    return v.length > 1 ? `${pct(Math.min(...v))}–${pct(Math.max(...v))}` : '–';
  };
  const mainRows = present.flatMap(([m, label]) =>
    BUDGETS.map((b) => {
      const c = byMethod[m]![b]!;
      return [
        `${label} @${b}`,
        `${pct(c.recall['all 1-4']?.strict)} / ${pct(c.recall['all 1-4']?.mean)}`,
        ...GROUPS.slice(1).map((g) => pct(c.recall[g]?.strict)),
        fmt(c.tokens, 0),
        range(c),
      ];
    }),
  );
  const n = (g: string) => byMethod.bm25?.[BUDGETS[0]!]?.recall[g]?.n ?? 0;
  const advRows = present.flatMap(([m, label]) =>
    BUDGETS.map((b) => {
      const r = byMethod[m]![b]!.recall.adversarial;
      return [`${label} @${b}`, `${pct(r?.strict)} / ${pct(r?.mean)}`, String(r?.n ?? 0)];
    }),
  );
  const TIERS = ['system', 'summary', 'facts', 'older', 'recent', 'current', 'semantic'];
  const tierRows = present.flatMap(([m, label]) =>
    BUDGETS.flatMap((b) => {
      const t = byMethod[m]![b]!.tierTokens;
      return t
        ? [[`${label} @${b}`, ...TIERS.map((tier) => fmt(t[tier] ?? 0, 0)), fmt(byMethod[m]![b]!.tokens, 0)]]
        : [];
    }),
  );
  const sections: Section[] = [
    {
      kind: 'text',
      text:
        'Evidence recall: a question’s evidence turn is recalled when its text appears in the context (whitespace ' +
        'ignored). Strict = every evidence turn of the question is there; mean = average share. Tokens = characters/4 ' +
        'of the text each method puts in front of the model, for Memoir as for the baselines (the per-tier table ' +
        'shows Memoir’s own accounting, which also counts the frames around its blocks). ' +
        'Each conversation is fed once (feeding is most of the suite’s time): the baselines are deterministic, and ' +
        'Memoir’s recall varies slightly from run to run because its background compaction and fact extraction run ' +
        'beside the turns; “per-conversation range” is the spread of strict recall over the conversations. ' +
        'Each turn of the baselines is the line ' +
        '`[<session date>] <speaker>: <text>`. Memoir is fed A’s lines as user messages, each with its session’s date ' +
        `as \`sentAt\`, and answers with B’s lines; when A speaks twice in a row the first gets the reply “${NO_REPLY}”, ` +
        `and a session that opens with B gets a user turn “${NO_REPLY}”.`,
    },
  ];
  if (memoirSkipped) sections.push({ kind: 'text', text: `**Memoir not measured:** ${memoirSkipped}.` });
  sections.push(
    {
      kind: 'table',
      caption: `Evidence recall, categories 1–4, strict % (all: strict / mean %); n = ${n('all 1-4')} (${GROUPS.slice(1)
        .map((g) => `${g} ${n(g)}`)
        .join(', ')})`,
      table: {
        columns: [
          'method @ budget',
          'all 1-4',
          ...GROUPS.slice(1),
          'context tokens used (mean)',
          'per-conversation range',
        ],
        rows: mainRows,
      },
    },
    {
      kind: 'table',
      caption:
        'Where Memoir’s budget goes: mean tokens per tier of the assembled context, categories 1–4 (semantic = ' +
        'recalled memories; recent = the window since the last compaction; older = verbatim messages in the archive)',
      table: { columns: ['method @ budget', ...TIERS, 'total'], rows: tierRows },
    },
    {
      kind: 'table',
      caption: 'Adversarial questions (category 5, unanswerable), reported separately: strict / mean %',
      table: { columns: ['method @ budget', 'strict / mean', 'n'], rows: advRows },
    },
  );
  if (reference) {
    const rows = reference.rows.map((r) => {
      const ours = reference.ours[r.method]?.[r.budget]?.recall;
      const label = `${r.method === 'bm25' ? 'BM25 over turns' : 'last turns that fit'} @${r.budget}`;
      return [
        label,
        ...GROUPS.map((g) => {
          const ref = r.values[g] ?? [];
          const mine = ours?.[g];
          const refText = ref.length > 1 ? `${ref[0]} / ${ref[1]}` : (ref[0] ?? '–');
          const ourText = g === 'all 1-4' ? `${pct(mine?.strict)} / ${pct(mine?.mean)}` : pct(mine?.strict);
          return `${refText} → ${ourText}`;
        }),
      ];
    });
    sections.push({
      kind: 'table',
      caption:
        'Check: our baselines on the whole split against the dataset README’s reference table (reference → ours, %)',
      table: { columns: ['method @ budget', ...GROUPS], rows },
    });
  }
  const f = footer(ctx, params, 'one run (each conversation fed once); pooled over all questions of the conversations');
  const budgetSvg = lineChart({
    title: 'LoCoMo evidence recall by context budget (categories 1–4, strict)',
    subtitle: 'Share of questions whose every evidence turn is in the assembled context',
    xLabel: 'context budget (tokens)',
    yLabel: 'strict recall (%)',
    yMax: 100,
    series: present.map(([m, label]) => ({
      name: label,
      points: BUDGETS.map((b) => [b, (byMethod[m]![b]!.recall['all 1-4']?.strict ?? NaN) * 100] as [number, number]),
    })),
    footer: f,
  });
  const cats = [...GROUPS.slice(1), 'adversarial'];
  const catSvg = barChart({
    title: 'LoCoMo evidence recall by question category and budget (strict %)',
    subtitle:
      'Adversarial (category 5) questions are unanswerable: their evidence is where the false premise comes from',
    yLabel: 'strict recall (%)',
    categories: cats.flatMap((g) => BUDGETS.map((b, i) => `${b / 1000}k${i === 1 ? `\n${g}` : ''}`)),
    series: present.map(([m, label]) => ({
      name: label,
      values: cats.flatMap((g) => BUDGETS.map((b) => (byMethod[m]![b]!.recall[g]?.strict ?? NaN) * 100)),
    })),
    yMax: 100,
    width: 1280,
    footer: f,
  });
  sections.push(
    { kind: 'chart', file: 'locomo-budget.svg', alt: 'Strict recall vs budget' },
    { kind: 'chart', file: 'locomo-categories.svg', alt: 'Strict recall by category and budget' },
  );
  const at4k = (m: Method) => byMethod[m]?.[4000]?.recall['all 1-4'];
  return {
    params,
    data: {
      recall: byMethod,
      referenceCheck: reference ?? null,
      memoirSkipped: memoirSkipped ?? null,
      categories: CATEGORIES,
    },
    headlines: [
      {
        label:
          'LoCoMo evidence recall @4k tokens, categories 1–4, strict (Memoir defaults · Memoir recall-heavy · BM25 · last turns)',
        value: `${at4k('memoir') ? `${pct(at4k('memoir')!.strict)}%` : 'not measured'} · ${at4k('memoir-recall') ? `${pct(at4k('memoir-recall')!.strict)}%` : 'not measured'} · ${pct(at4k('bm25')?.strict)}% · ${pct(at4k('last')?.strict)}%`,
      },
    ],
    sections,
    charts: [
      { file: 'locomo-budget.svg', svg: budgetSvg },
      { file: 'locomo-categories.svg', svg: catSvg },
    ],
  };
}
