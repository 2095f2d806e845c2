/**
 * Recall tuning harness (a developer tool, not a benchmark figure): loads the LoCoMo dev split straight into a
 * fresh PostgreSQL database and a Weaviate collection (no Temporal, no model: turns are stored as the turn path
 * would store them, with the speakers' names and each session's date as `sentAt`), replays the turn path's memory
 * upkeep after each turn (compaction into summary segments and fact extraction, by the workflow's triggers and the
 * offline model's answers: `lib/upkeep-replay.ts`), then assembles the context of every question with the real
 * ContextAssembler — the configuration's defaults, recall filling the budget as the preview endpoint does with an
 * explicit budget — under each ranking profile and prints strict evidence recall. It takes minutes, where the
 * benchmark's LoCoMo suite takes a quarter of an hour, so weights can be compared on all five conversations. The
 * committed figures come from `bench/run.ts`, never from this.
 *
 *   npx tsx bench/tune-recall.ts                                   # defaults
 *   TUNE='[{"sessionWeight":0},{"sessionWeight":0.5}]' npx tsx bench/tune-recall.ts
 *   TUNE_EMBEDDER=minilm npx tsx bench/tune-recall.ts                # the neural local embedder (make setup)
 *   TUNE_SEMANTIC=off npx tsx bench/tune-recall.ts                   # lexical recall alone
 *   TUNE_RECALL_MODE=turn npx tsx bench/tune-recall.ts               # a turn's top k, not a budget's fill
 *   TUNE_BUDGETS=4000 TUNE_DIAG=1 TUNE_DIAG_FILE=/tmp/misses.jsonl npx tsx bench/tune-recall.ts   # why it misses
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import weaviate from 'weaviate-client';
import { loadConfig } from '../src/config';
import { ContextAssembler } from '../src/context/assembler';
import { assemblerSettings } from '../src/context/assembler-settings';
import type { RankingWeights } from '../src/context/recall-ranking';
import { LocalEmbedder } from '../src/memory/embedders/local';
import { DEFAULT_MINILM_DIR, MiniLmEmbedder } from '../src/memory/embedders/minilm';
import { FactStore } from '../src/memory/facts';
import { NO_HOT_TIER } from '../src/memory/hot-tier';
import { SemanticTier } from '../src/memory/semantic-tier';
import { SummaryStore } from '../src/memory/summaries';
import { TwoLevelCache } from '../src/memory/two-level-cache';
import { WeaviateStore } from '../src/memory/weaviate-store';
import { estimateTokens } from '../src/model/tokens';
import { ConversationStore } from '../src/storage/conversations';
import { openPostgres } from '../src/storage/db';
import { ManifestStore } from '../src/storage/manifests';
import { migrate } from '../src/storage/migrate';
import { summarySizes } from '../src/runtime/worker';
import { freshDatabase } from '../test/helpers/stack';
import { TEST_SERVICES } from '../test/helpers/services';
import {
  CATEGORIES,
  evidenceRecall,
  loadLocomo,
  pool,
  type LocomoConversation,
  type LocomoQuestion,
  type LocomoTurn,
  type Recall,
} from './lib/locomo';
import { DEFAULT_LOCOMO_PATH, exchanges } from './suites/locomo';
import { UpkeepReplay } from './lib/upkeep-replay';

const BUDGETS = (process.env.TUNE_BUDGETS ?? '2000,4000').split(',').map(Number);
const PROFILES: Partial<RankingWeights>[] = JSON.parse(process.env.TUNE ?? '[{}]');
// TUNE_DIAG=1: why the largest budget misses what it misses (a summary by category, each miss in TUNE_DIAG_FILE).
const DIAG = process.env.TUNE_DIAG === '1';
const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };

async function run(): Promise<void> {
  const convs = loadLocomo(process.env.LOCOMO_PATH ?? DEFAULT_LOCOMO_PATH);
  // The deployment's defaults (MEMOIR_* in the environment apply, as they do to the suite's processes).
  const config = loadConfig(process.env);
  const database = await freshDatabase();
  const db = openPostgres(database.url);
  const client = await weaviate.connectToLocal(TEST_SERVICES.weaviate);
  const collection = `MemoirTune_${randomBytes(5).toString('hex')}`;
  const embedder =
    process.env.TUNE_EMBEDDER === 'minilm' ? new MiniLmEmbedder({ modelDir: DEFAULT_MINILM_DIR }) : new LocalEmbedder();
  let indexMs = 0;
  let indexedMessages = 0;
  const semantic = new SemanticTier(
    new WeaviateStore(client, { collection, dimensions: embedder.dimensions }),
    embedder,
  );
  try {
    await migrate(db);
    await semantic.store.ensureReady();
    const conversations = new ConversationStore(db);
    const summaries = new SummaryStore(db);
    const facts = new FactStore(db);
    for (const c of convs) {
      await conversations.create('tune', c.sampleId, 'u', undefined, {
        participants: { user: c.speakerA, assistant: c.speakerB },
      });
      const upkeep = new UpkeepReplay(
        {
          conversations,
          summaries,
          facts,
          semantic,
          policy: config.policy,
          summaryModel: config.memory.summaryModel,
          ...summarySizes(config),
        },
        { tenantId: 'tune', conversationId: c.sampleId, userId: 'u' },
      );
      for (const [i, e] of exchanges(c).entries()) {
        await conversations.persistTurn({
          tenantId: 'tune',
          conversationId: c.sampleId,
          userMessage: { messageId: `${c.sampleId}-u${i}`, content: e.user, sentAt: e.sentAt },
          reply: { messageId: `${c.sampleId}-a${i}`, content: e.reply, model: 'm', degraded: false },
          usage,
        });
        await upkeep.afterTurn(e.user.length, e.reply.length);
      }
      const last = await conversations.lastSeq('tune', c.sampleId);
      const all = await conversations.range('tune', c.sampleId, 1, last);
      const started = performance.now();
      await semantic.indexMessages({ tenantId: 'tune', conversationId: c.sampleId, userId: 'u' }, all);
      indexMs += performance.now() - started;
      indexedMessages += all.length;
    }
    console.log(`loaded ${convs.length} conversations in ${Math.round(performance.now() / 1000)} s`);
    console.log(
      `embedder ${embedder.id}: indexed ${indexedMessages} messages in ${Math.round(indexMs)} ms ` +
        `(${((indexMs / indexedMessages) * 1000).toFixed(0)} ms per 1,000, embedding and Weaviate upserts)`,
    );
    for (const ranking of PROFILES) {
      const assembler = new ContextAssembler({
        conversations,
        manifests: new ManifestStore(db),
        summaries,
        facts,
        summaryCache: new TwoLevelCache(undefined, {
          name: 'summary',
          maxEntries: 10,
          l1TtlMs: 60_000,
          l2TtlSeconds: 1,
        }),
        hot: NO_HOT_TIER,
        // TUNE_SEMANTIC=off: BM25 alone, the floor a fused semantic list must not lower.
        semantic: process.env.TUNE_SEMANTIC === 'off' ? undefined : semantic,
        db,
        tokens: estimateTokens,
        // As production builds them (a slower tier is waited for here), with the profile under test.
        settings: assemblerSettings(config, { tierTimeoutMs: 10_000, ranking }),
      });
      for (const budget of BUDGETS) {
        const items: { category: number; recall: Recall; sampleId: string }[] = [];
        const misses: Miss[] = [];
        const tiers = new Map<string, number>();
        for (const c of convs) {
          const byId = new Map(c.turns.map((t) => [t.diaId, t]));
          for (const q of c.questions) {
            const { blocks } = await assembler.assemble({
              tenantId: 'tune',
              conversationId: c.sampleId,
              messageId: 'preview',
              userContent: q.question,
              turn: 0,
              budgetTokens: budget,
              // As the benchmark's LoCoMo suite asks (a preview with a budget fills it); TUNE_RECALL_MODE=turn: the
              // top k a real turn recalls.
              recallMode: process.env.TUNE_RECALL_MODE === 'turn' ? 'turn' : 'fill',
            });
            const context = blocks.map((b) => b.text).join('\n');
            if (q.category <= 4) for (const b of blocks) tiers.set(b.tier, (tiers.get(b.tier) ?? 0) + b.tokens);
            const evidence = q.evidence.map((e) => byId.get(e)!);
            const recall = evidenceRecall(context, evidence);
            items.push({ category: q.category, recall, sampleId: c.sampleId });
            if (DIAG && q.category <= 4 && !recall.strict && budget === Math.max(...BUDGETS)) {
              misses.push(await diagnose(assembler, c, q, evidence, blocks));
            }
          }
        }
        const p = pool(items);
        const answerable = items.filter((i) => i.category <= 4).length;
        const per = convs.map((c) =>
          (pool(items.filter((i) => i.sampleId === c.sampleId))['all 1-4']!.strict * 100).toFixed(1),
        );
        const cats = Object.values(CATEGORIES).filter((g) => g !== 'adversarial' && p[g]);
        console.log(
          `${JSON.stringify(ranking)} @${budget}: all ${(p['all 1-4']!.strict * 100).toFixed(1)} · ` +
            cats.map((g) => `${g} ${(p[g]!.strict * 100).toFixed(1)}`).join(' · ') +
            ` · per conversation ${per.join(' ')} · mean tokens per tier ` +
            [...tiers].map(([t, n]) => `${t} ${Math.round(n / answerable)}`).join(' '),
        );
        if (misses.length > 0) reportMisses(misses);
      }
    }
  } finally {
    await client.collections.delete(collection).catch(() => undefined);
    await client.close();
    await db.close();
    await database.drop();
  }
}

/** Where each missing evidence turn went: cut by the budget (a huge budget recalls it) or not retrieved at all. */
interface Miss {
  sampleId: string;
  category: number;
  question: string;
  evidence: { diaId: string; text: string; found: 'in context' | 'cut by the budget' | 'not retrieved' }[];
}

async function diagnose(
  assembler: ContextAssembler,
  c: LocomoConversation,
  q: LocomoQuestion,
  evidence: LocomoTurn[],
  blocks: { text: string }[],
): Promise<Miss> {
  const wide = await assembler.assemble({
    tenantId: 'tune',
    conversationId: c.sampleId,
    messageId: 'preview',
    userContent: q.question,
    turn: 0,
    budgetTokens: 200_000,
    recallMode: 'fill',
  });
  const here = blocks.map((b) => b.text).join('\n');
  const there = wide.blocks.map((b) => b.text).join('\n');
  return {
    sampleId: c.sampleId,
    category: q.category,
    question: q.question,
    evidence: evidence.map((t) => ({
      diaId: t.diaId,
      text: t.text,
      found: evidenceRecall(here, [t]).strict
        ? 'in context'
        : evidenceRecall(there, [t]).strict
          ? 'cut by the budget'
          : 'not retrieved',
    })),
  };
}

function reportMisses(misses: Miss[]): void {
  const counts = new Map<string, number>();
  for (const m of misses) {
    for (const e of m.evidence) {
      const key = `${CATEGORIES[m.category]} ${e.found}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  console.log(
    `  misses: ${misses.length} questions; evidence turns ${[...counts]
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(' · ')}`,
  );
  if (process.env.TUNE_DIAG_FILE)
    fs.writeFileSync(process.env.TUNE_DIAG_FILE, misses.map((m) => JSON.stringify(m)).join('\n'));
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
