/**
 * What recall brings and in which order, on a real PostgreSQL and Weaviate (local embedder): a hit on a fact
 * pulls in the turn it was drawn from and carries its date; hits of a session that matches as a whole rank above
 * a stray line elsewhere; a question naming a participant favours what that participant said; recalled lines are
 * grouped under one date header per session and labelled with the participants' names.
 */
import { randomBytes } from 'node:crypto';
import weaviate, { type WeaviateClient } from 'weaviate-client';
import { ContextAssembler, type AssemblerSettings } from '../../src/context/assembler';
import { LocalEmbedder } from '../../src/memory/embedders/local';
import { FactStore } from '../../src/memory/facts';
import { NO_HOT_TIER } from '../../src/memory/hot-tier';
import { SemanticTier } from '../../src/memory/semantic-tier';
import { SummaryStore } from '../../src/memory/summaries';
import { TwoLevelCache } from '../../src/memory/two-level-cache';
import { WeaviateStore } from '../../src/memory/weaviate-store';
import { estimateTokens } from '../../src/model/tokens';
import { ConversationStore } from '../../src/storage/conversations';
import { openPostgres, type Db } from '../../src/storage/db';
import { ManifestStore } from '../../src/storage/manifests';
import { migrate } from '../../src/storage/migrate';
import { TEST_SERVICES } from '../helpers/services';
import { freshDatabase } from '../helpers/stack';

const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };
const FILLER = [
  'The weather was grey all morning.',
  'Lunch was soup and bread again.',
  'The train to work ran late.',
  'I repainted the fence on Sunday.',
  'The cat slept on the sofa all day.',
  'We watched an old film last night.',
];

describe('recall provenance and ranking', () => {
  let db: Db;
  let drop: () => Promise<void>;
  let client: WeaviateClient;
  let collection: string;
  let conversations: ConversationStore;
  let semantic: SemanticTier;
  /** An assembler on the stores; `lexicalOnly` leaves the semantic tier out, so hit ranks are BM25's alone. */
  const assembler = (settings: Partial<AssemblerSettings> = {}, lexicalOnly = false) =>
    new ContextAssembler({
      conversations,
      manifests: new ManifestStore(db),
      summaries: new SummaryStore(db),
      facts: new FactStore(db),
      summaryCache: new TwoLevelCache(undefined, { name: 'summary', maxEntries: 10, l1TtlMs: 1, l2TtlSeconds: 1 }),
      hot: NO_HOT_TIER,
      semantic: lexicalOnly ? undefined : semantic,
      db,
      tokens: estimateTokens,
      settings: {
        defaultSystemPrompt: 'You are a helpful assistant.',
        recentMessages: 2,
        budgetTokens: 4000,
        recallTopK: 3,
        recallShare: 0.4,
        archiveShare: 0,
        recallCandidates: 60,
        tierTimeoutMs: 10_000,
        recallGate: 0,
        ...settings,
      },
    });
  /** Stores user lines (each answered with "Noted.") in one conversation, each with its sentAt. */
  async function feed(
    conversationId: string,
    lines: [string, string, string?][],
    names?: { user: string; assistant: string },
  ) {
    await conversations.create('t', conversationId, 'u', undefined, { participants: names });
    for (const [i, [content, sentAt, reply]] of lines.entries()) {
      await conversations.persistTurn({
        tenantId: 't',
        conversationId,
        userMessage: { messageId: `${conversationId}-u${i}`, content, sentAt },
        reply: { messageId: `${conversationId}-a${i}`, content: reply ?? 'Noted.', model: 'm', degraded: false },
        usage,
      });
    }
    const last = await conversations.lastSeq('t', conversationId);
    // Everything but the newest two turns is folded, so it can only come back through recall.
    await new SummaryStore(db).save('t', conversationId, {
      version: 1,
      toSeq: last - 4,
      text: 'Small talk.',
      tokens: 3,
      sourceTokens: 100,
      facts: [],
      model: 'm',
    });
    const messages = await conversations.range('t', conversationId, 1, last);
    await semantic.indexMessages({ tenantId: 't', conversationId, userId: 'u' }, messages);
    return messages;
  }
  const ask = (a: ContextAssembler, conversationId: string, query: string) =>
    a.assemble({ tenantId: 't', conversationId, messageId: 'q', userContent: query, turn: 99 });

  beforeAll(async () => {
    const database = await freshDatabase();
    db = openPostgres(database.url);
    drop = async () => (await db.close(), await database.drop());
    await migrate(db);
    conversations = new ConversationStore(db);
    client = await weaviate.connectToLocal(TEST_SERVICES.weaviate);
    collection = `MemoirTest_${randomBytes(5).toString('hex')}`;
    const embedder = new LocalEmbedder();
    semantic = new SemanticTier(new WeaviateStore(client, { collection, dimensions: embedder.dimensions }), embedder);
    await semantic.store.ensureReady();
  });
  afterAll(async () => {
    await client?.collections.delete(collection).catch(() => undefined);
    await client?.close();
    await drop?.();
  });

  it('pulls in the source turn of a recalled fact, dated by when it was said', async () => {
    const lines: [string, string][] = [
      ...FILLER.map((f): [string, string] => [f, '2023-03-01T10:00:00Z']),
      ['We finally signed the papers for the little place near the lake!', '2023-03-04T18:30:00Z'],
      ...FILLER.map((f): [string, string] => [`Again: ${f}`, '2023-03-09T10:00:00Z']),
    ];
    const messages = await feed('facts', lines);
    const source = messages.find((m) => m.content.startsWith('We finally signed'))!;
    const facts = new FactStore(db);
    const merged = await facts.merge(
      { tenantId: 't', conversationId: 'facts', userId: 'u' },
      [{ kind: 'fact', subject: 'home', text: 'The user bought a cottage.', sourceMessageIds: [source.messageId] }],
      messages.at(-1)!.seq,
    );
    expect(merged.added[0]!.eventDate).toBe('2023-03-04');
    await semantic.indexFacts({ tenantId: 't', conversationId: 'facts', userId: 'u' }, merged.added);

    // One candidate per retriever: the fact is the hit; its source turn shares no word with the question.
    const { manifest, blocks } = await ask(assembler({ recallCandidates: 1 }), 'facts', 'When did I buy a cottage?');
    expect(manifest.recall.facts.map((f) => f.text)).toEqual(['The user bought a cottage.']);
    expect(manifest.recall.messageSeqs).toContain(source.seq);
    const recalled = blocks.find((b) => b.tier === 'semantic')!.text;
    expect(recalled).toContain('- [fact 2023-03-04] The user bought a cottage.');
    expect(recalled).toMatch(/\[2023-03-04\]\nuser: We finally signed the papers/);
  });

  it('starts no vector search when the only hits that could open the gate are in the window since the fold', async () => {
    // feed() folds all but the newest two turns: the kayak line is in the window, the train line is folded.
    await feed('speculation', [
      ...FILLER.map((f): [string, string] => [f, '2023-05-01T09:00:00Z']),
      ['My kayak is called Albatross.', '2023-05-02T09:00:00Z'],
      ['The cat slept on the sofa again.', '2023-05-02T09:05:00Z'],
    ]);
    // A low threshold (the gate opens on any hit outside the context); an archive share that fits the summary (so
    // the archive gives the window's start) and no older message beside it (so the train line is out of context).
    const gated = assembler({ recallGate: 0.01, archiveShare: 0.005 });
    const recall = vi.spyOn(semantic, 'recall');
    try {
      const inWindow = await ask(gated, 'speculation', 'What is my kayak called?');
      expect(inWindow.manifest.recallGate?.open).toBe(false);
      expect(inWindow.manifest.historySeqs.length).toBeGreaterThan(0);
      expect(recall).not.toHaveBeenCalled();
      const folded = await ask(gated, 'speculation', 'When did the train to work run late?');
      expect(folded.manifest.recallGate?.open).toBe(true);
      expect(recall).toHaveBeenCalledTimes(1);
    } finally {
      recall.mockRestore();
    }
  });

  it('ranks the hits of a session that matches as a whole above a stray line elsewhere', async () => {
    const messages = await feed('sessions', [
      ['We walk the dog along the river every evening.', '2023-04-01T09:00:00Z'],
      ...FILLER.map((f): [string, string] => [f, '2023-04-02T09:00:00Z']),
      ['The dog barked at the postman.', '2023-04-05T09:00:00Z'],
      ['The river was far too cold for swimming.', '2023-04-05T09:05:00Z'],
      ['It was a long walk back up the hill.', '2023-04-05T09:10:00Z'],
      ...FILLER.map((f): [string, string] => [`Later: ${f}`, '2023-04-09T09:00:00Z']),
    ]);
    const stray = messages.find((m) => m.content.startsWith('We walk the dog'))!;
    const session = messages.filter((m) => /^(The dog barked|The river was|It was a long walk)/.test(m.content));
    // Fused by rank, where the lines' scores are close enough for smoothing to decide (fused by score, the line
    // matching every word scores about three times each session line: a smoothing share cannot overturn that).
    // Neighbours within one turn only: the session's lines are two apart (each has its reply), and a wider radius
    // would let them lift each other as neighbouring hits, smoothing or not.
    const first = async (sessionWeight: number) =>
      (
        await ask(
          assembler({ ranking: { sessionWeight, fusion: 'rank', neighbourRadius: 1 } }, true),
          'sessions',
          'dog river walk',
        )
      ).manifest.recall.messageSeqs[0];
    // Without smoothing the line matching every word wins; with it, the session that matches as a whole does.
    expect(await first(0)).toBe(stray.seq);
    expect(session.map((m) => m.seq)).toContain(await first(0.3));

    // Rendered by session: one date header each, in conversation order.
    const { blocks } = await ask(assembler({}, true), 'sessions', 'dog river walk');
    const recalled = blocks.find((b) => b.tier === 'semantic')!.text;
    expect(recalled.match(/\[2023-04-05\]/g)).toHaveLength(1);
    expect(recalled.indexOf('[2023-04-01]')).toBeLessThan(recalled.indexOf('[2023-04-05]'));
  });

  it('keeps a strong hit ahead of a weak one that the speaker lift favours (hits fused by score, not rank)', async () => {
    const messages = await feed(
      'gaps',
      [
        ...FILLER.map((f): [string, string] => [f, '2023-06-01T09:00:00Z']),
        ['A blue heron nested by the lake behind the ancient mill.', '2023-06-02T09:00:00Z', 'Lovely.'],
        ...FILLER.map((f): [string, string] => [`Then: ${f}`, '2023-06-03T09:00:00Z']),
        ['Any plans for the weekend?', '2023-06-04T09:00:00Z', 'Maybe a walk to the lake.'],
        ...FILLER.map((f): [string, string] => [`After: ${f}`, '2023-06-05T09:00:00Z']),
      ],
      { user: 'Caroline', assistant: 'Melanie' },
    );
    const strong = messages.find((m) => m.content.startsWith('A blue heron'))!;
    const weak = messages.find((m) => m.content.startsWith('Maybe a walk'))!;
    const { manifest } = await ask(
      assembler({ recallTopK: 10, ranking: { sessionWeight: 0, neighbourWeight: 0, diversityLambda: 1 } }, true),
      'gaps',
      'Did Melanie hear about the blue heron at the lake by the ancient mill?',
    );
    // The weak line shares one word and is Melanie's (lifted ×2); the strong one shares five. By rank alone the
    // lift would put the weak line first (2/62 > 1/61); by score it stays a weak hit.
    const seqs = manifest.recall.messageSeqs;
    expect(seqs).toContain(weak.seq);
    expect(seqs[0]).toBe(strong.seq);
    expect(seqs.indexOf(strong.seq)).toBeLessThan(seqs.indexOf(weak.seq));
  });

  it('favours what a named participant said, and labels lines with the names', async () => {
    const messages = await feed(
      'names',
      [
        ...FILLER.map((f): [string, string] => [f, '2023-05-01T09:00:00Z']),
        ['Melanie, is the pottery class any good?', '2023-05-02T09:00:00Z', 'The pottery class is great fun.'],
        ...FILLER.map((f): [string, string] => [`Later: ${f}`, '2023-05-03T09:00:00Z']),
      ],
      { user: 'Caroline', assistant: 'Melanie' },
    );
    const asked = messages.find((m) => m.content.startsWith('Melanie, is the pottery'))!;
    const answered = messages.find((m) => m.content.startsWith('The pottery class is'))!;
    const order = async (speakerWeight: number) =>
      (
        await ask(
          assembler({ ranking: { speakerWeight, sessionWeight: 0, neighbourWeight: 0 } }, true),
          'names',
          'What does Melanie think of the pottery class?',
        )
      ).manifest.recall.messageSeqs;
    // The user's line names Melanie and so matches one word more; the question is after what Melanie said.
    const plain = await order(0);
    expect(plain.indexOf(asked.seq)).toBeLessThan(plain.indexOf(answered.seq));
    const lifted = await order(1);
    expect(lifted.indexOf(answered.seq)).toBeLessThan(lifted.indexOf(asked.seq));

    const { blocks } = await ask(assembler({}, true), 'names', 'What does Melanie think of the pottery class?');
    const recalled = blocks.find((b) => b.tier === 'semantic')!.text;
    expect(recalled).toContain('[2023-05-02]\nCaroline: Melanie, is the pottery class any good?\nMelanie: The pottery');
  });
});
