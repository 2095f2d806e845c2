/**
 * The fill order of context assembly on a known conversation, on a real PostgreSQL: each tier's share of the
 * budget, top k as a floor, and recalled messages expanded with their neighbouring turns.
 */
import { ContextAssembler, type AssemblerSettings } from '../../src/context/assembler';
import { FactStore } from '../../src/memory/facts';
import { NO_HOT_TIER } from '../../src/memory/hot-tier';
import { SummaryStore } from '../../src/memory/summaries';
import { TwoLevelCache } from '../../src/memory/two-level-cache';
import { estimateTokens } from '../../src/model/tokens';
import { requestFromManifest } from '../../src/model/turn-request';
import { ConversationStore } from '../../src/storage/conversations';
import { openPostgres, type Db } from '../../src/storage/db';
import { ManifestStore } from '../../src/storage/manifests';
import { migrate } from '../../src/storage/migrate';
import { freshDatabase } from '../helpers/stack';

const HOBBIES = [
  'violin',
  'kayak',
  'pottery',
  'chess',
  'tango',
  'archery',
  'origami',
  'fencing',
  'juggling',
  'rowing',
  'sculpture',
  'birding',
  'climbing',
  'sailing',
  'knitting',
  'cycling',
  'baking',
  'surfing',
  'painting',
  'skating',
  'diving',
  'hiking',
  'rugby',
  'judo',
  'cello',
  'harp',
  'tennis',
  'golf',
  'yoga',
  'karate',
];
const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };
// 30 turns = 60 messages; the summary folds the first 40.
const SUMMARY_TO = 40;

describe('context fill order', () => {
  let db: Db;
  let drop: () => Promise<void>;
  let conversations: ConversationStore;
  const assembler = (settings: Partial<AssemblerSettings>) =>
    new ContextAssembler({
      conversations,
      manifests: new ManifestStore(db),
      summaries: new SummaryStore(db),
      facts: new FactStore(db),
      summaryCache: new TwoLevelCache(undefined, { name: 'summary', maxEntries: 10, l1TtlMs: 1, l2TtlSeconds: 1 }),
      hot: NO_HOT_TIER,
      semantic: undefined,
      db,
      tokens: estimateTokens,
      settings: {
        defaultSystemPrompt: 'You are a helpful assistant.',
        recentMessages: 4,
        budgetTokens: 1200,
        recallTopK: 3,
        recallShare: 0.4,
        archiveShare: 0.15,
        recallCandidates: 60,
        tierTimeoutMs: 5000,
        // The gate is tested end to end (cache-stable.test.ts); here it stays open to test the fill order.
        recallGate: 0,
        ...settings,
      },
    });
  const ask = (a: ContextAssembler, query: string, budgetTokens?: number) =>
    a.assemble({
      tenantId: 't',
      conversationId: 'c',
      messageId: 'q',
      userContent: query,
      turn: 31,
      // As the preview endpoint does: an explicit budget asks what recall can fill it with; none, what a turn gets.
      ...(budgetTokens ? { budgetTokens, recallMode: 'fill' as const } : {}),
    });
  const tokensOf = (blocks: { tier: string; tokens: number }[], ...tiers: string[]) =>
    blocks.filter((b) => tiers.includes(b.tier)).reduce((t, b) => t + b.tokens, 0);

  beforeAll(async () => {
    const database = await freshDatabase();
    db = openPostgres(database.url);
    drop = async () => (await db.close(), await database.drop());
    await migrate(db);
    conversations = new ConversationStore(db);
    await conversations.create('t', 'c', 'u');
    for (const [i, hobby] of HOBBIES.entries()) {
      await conversations.persistTurn({
        tenantId: 't',
        conversationId: 'c',
        userMessage: {
          messageId: `u${i}`,
          content: `Day ${i}: I tried ${hobby} and then walked the dog by the river.`,
        },
        reply: { messageId: `a${i}`, content: `Noted for day ${i}; tell me how it goes.`, model: 'm', degraded: false },
        usage,
      });
    }
    await new SummaryStore(db).save('t', 'c', {
      version: 1,
      toSeq: SUMMARY_TO,
      text: 'The user tries a new hobby every day and walks the dog.',
      tokens: 15,
      sourceTokens: 600,
      facts: [],
      model: 'm',
    });
  });
  afterAll(() => drop?.());

  it('fills system, newest, archive, reserve, window, then recall, in that order and within the budget', async () => {
    const budget = 500;
    const { manifest, blocks } = await ask(assembler({}), 'Which day did I walk the dog by the river?', budget);
    expect(blocks.map((b) => b.tier)).toEqual(['system', 'summary', 'older', 'recent', 'current', 'semantic']);
    // The archive (summary and older messages) stays within its cap: 15 % of the budget.
    expect(tokensOf(blocks, 'summary', 'facts', 'older')).toBeLessThanOrEqual(0.15 * budget);
    expect(manifest.olderSeqs.every((s) => s <= SUMMARY_TO)).toBe(true);
    // The window since the fold is contiguous up to the newest message, at least the newest 4, and leaves the
    // recall reserve (40 %) free.
    const seqs = manifest.historySeqs;
    expect(seqs.at(-1)).toBe(60);
    expect(seqs.length).toBeGreaterThan(4);
    expect(seqs.length).toBeLessThan(60 - SUMMARY_TO);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(manifest.usedTokens - tokensOf(blocks, 'semantic')).toBeLessThanOrEqual(budget * 0.6);
    // Recall takes the rest: the budget is used up to less than one more message.
    expect(tokensOf(blocks, 'semantic')).toBeGreaterThanOrEqual(budget * 0.4 - 30);
    expect(manifest.usedTokens).toBeLessThanOrEqual(budget);
    expect(manifest.usedTokens).toBeGreaterThan(budget - 30);
    // Nothing recalled is also in the window or the archive.
    const shown = new Set([...seqs, ...manifest.olderSeqs]);
    expect(manifest.recall.messageSeqs.filter((s) => shown.has(s))).toEqual([]);
  });

  it('hands its texts to the model call: the request built from them is the one rebuilt from the stores', async () => {
    const manifests = new ManifestStore(db);
    const { manifest, sources } = await ask(assembler({}), 'Which day did I walk the dog by the river?', 500);
    // Every part of the request is there: system, summary, older messages, the window, recall.
    expect(manifest.memoryParts.summary).toBe(true);
    expect(manifest.olderSeqs.length).toBeGreaterThan(0);
    expect(manifest.recall.messageSeqs.length).toBeGreaterThan(1);
    // The texts the manifest names, as read for it.
    const seqs = (ms: { seq: number }[]) => ms.map((m) => m.seq).sort((a, b) => a - b);
    expect(seqs(sources.history)).toEqual(manifest.historySeqs);
    expect(seqs(sources.older)).toEqual(manifest.olderSeqs);
    expect(seqs(sources.recalled)).toEqual([...manifest.recall.messageSeqs].sort((a, b) => a - b));
    await manifests.save('t', 'c', manifest, 'u', sources);
    // Handed over once, in this process; asked again (a retry), it is read back without them.
    const handed = await manifests.forModelCall('t', 'c', 'q');
    expect(handed?.sources).toBe(sources);
    expect((await manifests.forModelCall('t', 'c', 'q'))?.sources).toBeUndefined();

    const stores = { conversations, manifests, summaries: new SummaryStore(db) };
    const settings = { maxTokens: 100, cacheMinimums: {}, systemCacheTtl: '5m' as const };
    const request = (extra: { sources?: typeof sources }) =>
      requestFromManifest(stores, 't', 'c', manifest, 'claude-sonnet-5-5', settings, { userText: 'hi', ...extra });
    expect(await request({ sources })).toEqual(await request({}));
  });

  it('treats top k as a floor: made room for with no reserve, exceeded when the budget allows', async () => {
    const noReserve = await ask(assembler({ recallShare: 0, recallTopK: 3 }), 'walked the dog by the river');
    expect(noReserve.manifest.recall.messageSeqs.length).toBeGreaterThanOrEqual(3);
    const roomy = await ask(assembler({ recallTopK: 3 }), 'walked the dog by the river', 4000);
    expect(roomy.manifest.recall.messageSeqs.length).toBeGreaterThan(10);
  });

  it('reserves on a turn only what its top k need, so the window keeps what a preview gives to recall', async () => {
    const query = 'Which day did I walk the dog by the river?';
    const preview = await ask(assembler({}), query, 500);
    const turn = await ask(assembler({ budgetTokens: 500 }), query);
    expect(turn.manifest.recall.messageSeqs.length).toBeGreaterThan(0);
    expect(turn.manifest.historySeqs.length).toBeGreaterThan(preview.manifest.historySeqs.length);
    expect(turn.manifest.usedTokens).toBeLessThanOrEqual(500);
  });

  it('recalls a message of the window since the fold that the window had no room for', async () => {
    // Day 20 (message 41) is the window's oldest: at this budget the window keeps only its newest part.
    const { manifest } = await ask(assembler({}), 'Which day did I try diving?', 500);
    expect(manifest.historySeqs).not.toContain(41);
    expect(manifest.recall.messageSeqs).toContain(41);
  });

  it('keeps the recall gate closed when the message’s best hit is already in the window since the fold', async () => {
    // Only message 51 (day 25) says "harp", only message 3 (day 1) "kayak"; the window since the fold is 41–60,
    // the archive keeps just a few older messages, the newest N are 59–60.
    const gated = assembler({ recentMessages: 2, budgetTokens: 16_000, archiveShare: 0.01, recallGate: 2 });
    const inWindow = await ask(gated, 'How was the harp?');
    expect(inWindow.manifest.historySeqs).toContain(51);
    expect(inWindow.manifest.recallGate?.open).toBe(false);
    expect(inWindow.manifest.recall.messageSeqs).toEqual([]);
    const outside = await ask(gated, 'How was the kayak?');
    expect(outside.manifest.recallGate?.open).toBe(true);
    expect(outside.manifest.recall.messageSeqs).toContain(3);
  });

  it('lets a statement recall only on a much stronger match than a question needs', async () => {
    // Only message 3 (day 1) says "kayak". Asked about, it is recalled at a threshold half the question's score;
    // said in passing, the same word does not pass the statement's threshold (STATEMENT_FACTOR times as high).
    const probe = await ask(assembler({ recentMessages: 2, recallGate: 0.01 }), 'How was the kayak?');
    const gate = assembler({ recentMessages: 2, recallGate: probe.manifest.recallGate!.score / 2 });
    const asked = await ask(gate, 'How was the kayak?');
    expect(asked.manifest.recallGate?.open).toBe(true);
    expect(asked.manifest.recall.messageSeqs).toContain(3);
    const said = await ask(gate, 'The kayak was nice.');
    expect(said.manifest.recallGate?.open).toBe(false);
    expect(said.manifest.recall.messageSeqs).toEqual([]);
    expect(said.blocks.map((b) => b.tier)).not.toContain('semantic');
  });

  it('gives a statement that passes its higher threshold half the top k a question gets', async () => {
    const probe = await ask(assembler({ recentMessages: 2, recallGate: 0.01 }), 'How was the kayak?');
    // Low enough that the statement passes too (STATEMENT_FACTOR times it is still below the score).
    const gate = assembler({ recentMessages: 2, recallTopK: 3, recallGate: probe.manifest.recallGate!.score / 4 });
    const asked = await ask(gate, 'How was the kayak?');
    const said = await ask(gate, 'The kayak was nice.');
    expect(said.manifest.recallGate?.open).toBe(true);
    // The hit (3) and its neighbouring turns (2, 4) for the question; the hit alone for the statement.
    expect(asked.manifest.recall.messageSeqs).toHaveLength(3);
    expect(said.manifest.recall.messageSeqs).toEqual([3]);
  });

  it('brings a recalled message’s neighbouring turns along', async () => {
    // Only user message 3 (day 1) says "kayak"; its reply (4) and the turn before (2) do not.
    const { manifest, blocks } = await ask(assembler({ recentMessages: 2 }), 'kayak');
    expect(manifest.recall.messageSeqs).toEqual(expect.arrayContaining([2, 3, 4]));
    const recall = blocks.find((b) => b.tier === 'semantic')!.text;
    expect(recall).toContain('Noted for day 1; tell me how it goes.');
    // One date header for the session, a speaker label on every line.
    expect(recall.match(/^\[\d{4}-\d{2}-\d{2}\]$/gm)).toHaveLength(1);
    expect(recall).toMatch(/^user: Day 1: I tried kayak/m);
  });

  it('fills a budget with the turns up to two away from a hit', async () => {
    // A question is often answered two lines on ("What genre is it?" … "A mix of drama and romance!"), past the reply.
    const { manifest } = await ask(assembler({ recentMessages: 2 }), 'kayak', 1200);
    expect(manifest.recall.messageSeqs).toEqual(expect.arrayContaining([1, 2, 3, 4, 5]));
    expect(manifest.recall.messageSeqs).not.toContain(6);
  });

  it('ranks what was said on the day a question names above the same words said another day', async () => {
    await conversations.create('t', 'dated', 'u');
    const days = ['2023-05-08', '2023-06-10', '2023-07-01', '2023-07-02', '2023-07-03'];
    for (const [i, day] of days.entries()) {
      await conversations.persistTurn({
        tenantId: 't',
        conversationId: 'dated',
        userMessage: {
          messageId: `d${i}`,
          content: i < 2 ? 'We went kayaking on the lake.' : `Filler ${i}.`,
          sentAt: `${day}T10:00:00.000Z`,
        },
        reply: { messageId: `r${i}`, content: 'Nice.', model: 'm', degraded: false },
        usage,
      });
    }
    // Folded up to the last turn, so the first turns are recall's to find.
    await new SummaryStore(db).save('t', 'dated', {
      version: 1,
      toSeq: 8,
      text: 'Kayaking, then small talk.',
      tokens: 6,
      sourceTokens: 40,
      facts: [],
      model: 'm',
    });
    const top = async (question: string) =>
      (
        await assembler({ recentMessages: 2, recallTopK: 1, archiveShare: 0.001 }).assemble({
          tenantId: 't',
          conversationId: 'dated',
          messageId: 'q',
          userContent: question,
          turn: 6,
        })
      ).manifest.recall.messageSeqs;
    // The same words on both days: the day named decides, whichever way it is written.
    expect(await top('Where did we go kayaking on 10 June, 2023?')).toEqual([3]);
    expect(await top('Where did we go kayaking on May 8, 2023?')).toEqual([1]);
  });
});
