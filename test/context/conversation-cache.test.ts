/**
 * What the assembler keeps between a conversation's turns (src/context/conversation-cache.ts), on a real
 * PostgreSQL: a turn neither stores the system prompt again nor re-reads the archive's older messages once they are
 * known, and neither survives the conversation's erasure (created again under the same id, it is another one) nor
 * hides what another worker wrote. And on a real Redis: the hot tier is read beside the conversation row, not after.
 */
import { Redis } from 'ioredis';
import { ContextAssembler } from '../../src/context/assembler';
import { FactStore } from '../../src/memory/facts';
import { NO_HOT_TIER, RedisHotTier, type HotTier } from '../../src/memory/hot-tier';
import { SummaryStore } from '../../src/memory/summaries';
import { TwoLevelCache } from '../../src/memory/two-level-cache';
import { estimateTokens } from '../../src/model/tokens';
import type { AssemblerSettings } from '../../src/context/assembler';
import { ConversationStore, type ConversationRow } from '../../src/storage/conversations';
import { openPostgres, type Db } from '../../src/storage/db';
import { ManifestStore } from '../../src/storage/manifests';
import { migrate } from '../../src/storage/migrate';
import { TEST_SERVICES } from '../helpers/services';
import { freshDatabase, uniqueId } from '../helpers/stack';

const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };
const PROMPT_INSERT = /INSERT INTO conversation_system_prompts/;
const OLDER_PAGE = /FROM messages WHERE .* seq < \$3\s+ORDER BY seq DESC/s;
const LEXICAL_SEARCH = /WITH terms AS/;

describe('conversation cache of the assembler', () => {
  let db: Db;
  let drop: () => Promise<void>;
  /** Statements sent through `counted`, in order. */
  const sent: string[] = [];
  let counted: Db;

  /** An assembler as a worker builds one (its own cache), over `on` (the counted database or not). */
  const assembler = (on: Db, hot: HotTier = NO_HOT_TIER, settings: Partial<AssemblerSettings> = {}) =>
    new ContextAssembler({
      conversations: new ConversationStore(on),
      manifests: new ManifestStore(on),
      summaries: new SummaryStore(on),
      facts: new FactStore(on),
      summaryCache: new TwoLevelCache(undefined, { name: 'summary', maxEntries: 10, l1TtlMs: 1, l2TtlSeconds: 1 }),
      hot,
      semantic: undefined,
      db: on,
      tokens: estimateTokens,
      settings: {
        defaultSystemPrompt: 'You are a helpful assistant.',
        recentMessages: 2,
        budgetTokens: 4000,
        recallTopK: 3,
        recallShare: 0.2,
        archiveShare: 0.3,
        recallCandidates: 20,
        tierTimeoutMs: 10_000,
        recallGate: 0,
        ...settings,
      },
    });
  const ask = (a: ContextAssembler, conversationId: string, conversation?: Promise<ConversationRow | null>) =>
    a.assemble({
      tenantId: 't',
      conversationId,
      messageId: 'q',
      userContent: 'How was the garden?',
      turn: 99,
      ...(conversation ? { conversation } : {}),
    });
  /** Statements `fn` sent through the counted database. */
  async function statements(fn: () => Promise<unknown>): Promise<string[]> {
    const from = sent.length;
    await fn();
    return sent.slice(from);
  }
  /** Stores `turns` turns (user line + reply) whose text starts with `tag`. */
  async function feed(conversationId: string, tag: string, turns: number, first = 0) {
    const conversations = new ConversationStore(db);
    for (let i = first; i < first + turns; i++) {
      await conversations.persistTurn({
        tenantId: 't',
        conversationId,
        userMessage: { messageId: `${conversationId}-${tag}-u${i}`, content: `${tag} line ${i} about the garden.` },
        reply: {
          messageId: `${conversationId}-${tag}-a${i}`,
          content: `${tag} reply ${i}.`,
          model: 'm',
          degraded: false,
        },
        usage,
      });
    }
  }
  /** A compaction up to `toSeq`: the window starts after it, older messages come from before it. */
  const compact = (conversationId: string, version: number, toSeq: number) =>
    new SummaryStore(db).save('t', conversationId, {
      version,
      toSeq,
      text: `Summary ${version}.`,
      tokens: 3,
      sourceTokens: 100,
      facts: [],
      model: 'm',
    });

  beforeAll(async () => {
    const database = await freshDatabase();
    db = openPostgres(database.url);
    drop = async () => (await db.close(), await database.drop());
    await migrate(db);
    counted = {
      ...db,
      query: (sql, params) => {
        sent.push(sql);
        return db.query(sql, params);
      },
    };
  });
  afterAll(async () => {
    await drop?.();
  });

  it('stores the system prompt and reads the older messages once, not every turn', async () => {
    await new ConversationStore(db).create('t', 'steady', 'u', 'Be brief.');
    await feed('steady', 'old', 10);
    await compact('steady', 1, 12);
    const a = assembler(counted);
    const first = await statements(() => ask(a, 'steady'));
    expect(first.filter((q) => PROMPT_INSERT.test(q))).toHaveLength(1);
    expect(first.filter((q) => OLDER_PAGE.test(q))).toHaveLength(1);
    const before = await ask(assembler(db), 'steady');
    // A turn stored since commits synchronously after the prompt's (asynchronous) insert: from then on it is durable.
    await feed('steady', 'new', 1, 10);
    const later = await statements(async () => {
      const { manifest } = await ask(a, 'steady');
      // The same context as an assembler without a cache builds.
      const fresh = await ask(assembler(db), 'steady');
      expect(manifest.olderSeqs.length).toBeGreaterThan(0);
      expect(manifest.olderSeqs).toEqual(fresh.manifest.olderSeqs);
      expect(manifest.olderSeqs).toEqual(before.manifest.olderSeqs);
      expect(manifest.systemPromptSha).toBe(fresh.manifest.systemPromptSha);
    });
    expect(later.filter((q) => PROMPT_INSERT.test(q))).toHaveLength(0);
    expect(later.filter((q) => OLDER_PAGE.test(q))).toHaveLength(0);
  });

  it('stores the prompt again until a turn stored after it has made it durable', async () => {
    await new ConversationStore(db).create('t', 'young', 'u');
    const a = assembler(counted);
    const turns = [await statements(() => ask(a, 'young')), await statements(() => ask(a, 'young'))];
    expect(turns.map((t) => t.filter((q) => PROMPT_INSERT.test(q)).length)).toEqual([1, 1]);
  });

  it('serves nothing of an erased conversation to the one created again under its id', async () => {
    await new ConversationStore(db).create('t', 'erased', 'u', 'Be brief.');
    await feed('erased', 'before', 10);
    await compact('erased', 1, 12);
    const a = assembler(counted);
    await ask(a, 'erased');
    await feed('erased', 'before', 1, 10);
    await ask(a, 'erased');
    // Erasure deletes the row; its messages, summaries and system prompts go with it (ON DELETE CASCADE).
    await db.query(`DELETE FROM conversations WHERE tenant_id = 't' AND conversation_id = 'erased'`);
    await new ConversationStore(db).create('t', 'erased', 'u', 'Be brief.');
    await feed('erased', 'after', 11);
    await compact('erased', 1, 12);
    const again = await statements(async () => {
      const { manifest, sources } = await ask(a, 'erased');
      // The prompt the manifest names is stored for the new conversation, and its older lines are its own.
      expect(await new ManifestStore(db).systemPrompt('t', 'erased', manifest.systemPromptSha)).toBe('Be brief.');
      expect(sources.older.length).toBeGreaterThan(0);
      expect(sources.older.every((m) => m.content.startsWith('after'))).toBe(true);
    });
    expect(again.filter((q) => PROMPT_INSERT.test(q))).toHaveLength(1);
    expect(again.filter((q) => OLDER_PAGE.test(q))).toHaveLength(1);
  });

  it('follows a compaction and turns another worker wrote', async () => {
    await new ConversationStore(db).create('t', 'shared', 'u');
    await feed('shared', 'one', 10);
    await compact('shared', 1, 12);
    const a = assembler(counted);
    await ask(a, 'shared');
    // Another worker stores turns and compacts further: the window moves, and what lies before it changes.
    await feed('shared', 'two', 6, 10);
    await compact('shared', 2, 28);
    const { manifest } = await ask(a, 'shared');
    const fresh = await ask(assembler(db), 'shared');
    expect(manifest.olderSeqs).toContain(27);
    expect(manifest.olderSeqs).toEqual(fresh.manifest.olderSeqs);
    expect(manifest.historySeqs).toEqual(fresh.manifest.historySeqs);
  });

  it('leaves the lexical search out while every message is in context, and runs it again once one is not', async () => {
    const id = uniqueId('young');
    await new ConversationStore(db).create('t', id, 'u');
    await feed(id, 'garden', 3);
    // The recall gate on (the default); a window of 2 newest messages, the rest joining while the budget allows.
    const gated = { recallGate: 0.5 };
    const a = assembler(counted, NO_HOT_TIER, gated);
    /** This worker's turn and a fresh worker's (which searches at once): the same context either way. */
    const turn = async (budgetTokens?: number) => {
      const on = (x: ContextAssembler) =>
        x.assemble({
          tenantId: 't',
          conversationId: id,
          messageId: 'q',
          userContent: 'How was the garden?',
          turn: 9,
          ...(budgetTokens ? { budgetTokens } : {}),
        });
      const pg = await statements(async () => (mine = await on(a)));
      const fresh = await on(assembler(db, NO_HOT_TIER, gated));
      const same = ({ timings: _t, createdAt: _c, ...rest }: typeof mine.manifest) => rest;
      expect(same(mine.manifest)).toEqual(same(fresh.manifest));
      return pg.filter((q) => LEXICAL_SEARCH.test(q)).length;
    };
    let mine!: Awaited<ReturnType<typeof ask>>;
    // The first turn here searches (nothing known of the conversation yet) and finds all 6 messages in context.
    expect(await turn()).toBe(1);
    expect(mine.manifest.historySeqs).toEqual([1, 2, 3, 4, 5, 6]);
    // The next turn knows that: no search while the window still holds every message, the gate still closed.
    await feed(id, 'garden', 1, 3);
    expect(await turn()).toBe(0);
    expect(mine.manifest.recallGate?.open).toBe(false);
    // A budget too small for the whole window: what it leaves out may be worth recalling, so the search runs after
    // all, late in the same turn; and the next turn searches at once.
    expect(await turn(40)).toBe(1);
    expect(mine.manifest.historySeqs.length).toBeLessThan(8);
    expect(await turn()).toBe(1);
    // A compaction: the window no longer starts at the first message, so the search runs (after the window read).
    await compact(id, 1, 4);
    expect(await turn()).toBe(1);
    expect(mine.manifest.historySeqs[0]).toBe(5);
    // And on the next turn at once, as before: the hint went with the compaction.
    expect(await turn()).toBe(1);
  });

  it('reads the hot tier beside the conversation row, and keeps to the newest message the row names', async () => {
    const redis = new Redis(TEST_SERVICES.redisUrl);
    try {
      const reads: string[] = [];
      class WatchedHotTier extends RedisHotTier {
        override async since(tenantId: string, conversationId: string, fromSeq: number) {
          reads.push(`since ${fromSeq}`);
          return super.since(tenantId, conversationId, fromSeq);
        }
      }
      const hot = new WatchedHotTier(redis, { ttlSeconds: 60, keep: 400 });
      const id = uniqueId('hot');
      const store = new ConversationStore(db);
      await store.create('t', id, 'u');
      await feed(id, 'one', 10);
      await compact(id, 1, 12);
      const row = await store.get('t', id);
      // Another worker stores a turn after the row was read: the tier holds it, this turn's window must not.
      await feed(id, 'two', 1, 10);
      await hot.append('t', id, await store.range('t', id, 13, 22));
      let release!: (r: ConversationRow | null) => void;
      const pending = new Promise<ConversationRow | null>((resolve) => (release = resolve));
      const a = assembler(counted, hot);
      const assembling = ask(a, id, pending);
      await vi.waitFor(() => expect(reads).toEqual(['since 13']));
      release(row);
      const pg = await statements(async () => {
        const { manifest } = await assembling;
        expect(manifest.historySeqs).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
        expect(manifest.degradedTiers).toEqual([]);
      });
      // The window came from the tier: no range read from PostgreSQL.
      expect(pg.filter((q) => /seq BETWEEN/.test(q))).toHaveLength(0);
    } finally {
      redis.disconnect();
    }
  });
});
