/**
 * Lexical recall over stored messages on both engines: a real PostgreSQL 15 server and PGlite. Messages go in
 * through the ConversationStore, as the worker writes them.
 */
import { orTsQuery, searchMessages } from '../../src/memory/lexical';
import { ConversationStore } from '../../src/storage/conversations';
import type { Db } from '../../src/storage/db';
import { ENGINES } from '../helpers/engines';
import { migrate } from '../../src/storage/migrate';

const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };

/** Stores user/assistant turns; the user message of turn i is `u<i>`, its reply `a<i>`. */
async function converse(store: ConversationStore, tenant: string, conversation: string, turns: [string, string][]) {
  await store.create(tenant, conversation, 'user-1');
  for (const [i, [user, assistant]] of turns.entries()) {
    await store.persistTurn({
      tenantId: tenant,
      conversationId: conversation,
      userMessage: { messageId: `u${i}`, content: user },
      reply: { messageId: `a${i}`, content: assistant, model: 'test-model', degraded: false },
      usage,
    });
  }
}

describe.each(ENGINES)('lexical search on %s', (name, open) => {
  let db: Db;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ db, cleanup } = await open());
    const applied = await migrate(db);
    expect(applied).toContain('002_message_search');
    expect(applied).toContain('012_message_tsv');
    // The vector extension migration is for the embedded engine only.
    expect(applied.includes('002_memory_vectors.pglite')).toBe(name === 'PGlite');
    const store = new ConversationStore(db);
    await converse(store, 'acme', 'trip', [
      ['We saw a quokka at the zoo in Perth yesterday!', 'Quokkas are famously photogenic marsupials.'],
      ['I booked flights to Lisbon for the second week of May.', 'Lisbon in May is lovely; pack light layers.'],
      ['My sister lives in Porto, maybe we visit her too.', 'Porto is a short train ride from Lisbon.'],
      ['What should I eat there?', 'Try pastéis de nata and grilled sardines.'],
    ]);
    await converse(store, 'acme', 'work', [['The quokka mascot for the launch is approved.', 'Great news.']]);
    await converse(store, 'globex', 'trip', [['Another tenant also talks about a quokka.', 'Noted.']]);
  });
  afterAll(() => cleanup());

  it('recalls a question’s subject with OR semantics, best match first', async () => {
    const hits = await searchMessages(db, {
      tenantId: 'acme',
      conversationId: 'trip',
      text: 'What did I say about the quokka at the zoo?',
      limit: 10,
    });
    // "quokka", "zoo" and "say" together appear nowhere: AND semantics would find nothing.
    expect(hits[0]).toMatchObject({ messageId: 'u0', seq: 1, role: 'user', conversationId: 'trip' });
    expect(hits[0]!.content).toContain('quokka at the zoo');
    expect(hits.map((h) => h.messageId)).toEqual(['u0', 'a0']);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
  });

  it('stems words, so other forms of them match', async () => {
    const hits = await searchMessages(db, { tenantId: 'acme', text: 'booking a flight', limit: 5 });
    expect(hits.map((h) => h.messageId)).toEqual(['u1']);
  });

  it('ranks messages matching more of the query higher', async () => {
    const hits = await searchMessages(db, {
      tenantId: 'acme',
      conversationId: 'trip',
      text: 'Lisbon in May',
      limit: 5,
    });
    expect(
      hits
        .map((h) => h.messageId)
        .slice(0, 2)
        .sort(),
    ).toEqual(['a1', 'u1']);
    expect(hits.map((h) => h.messageId)).toContain('a2'); // "Lisbon" only
    expect(hits.at(-1)!.messageId).toBe('a2');
  });

  it('scores Okapi BM25 with token lengths averaged over the whole conversation', async () => {
    const store = new ConversationStore(db);
    // Words the english configuration keeps whole and never drops: each word is one token.
    await converse(store, 'bm25', 'lengths', [
      ['kayak kayak lake', 'river canyon forest meadow valley'],
      ['kayak', 'mountain glacier summit ridge trail'],
    ]);
    const hits = await searchMessages(db, { tenantId: 'bm25', conversationId: 'lengths', text: 'kayak', limit: 5 });
    // N = 4 messages, 2 hold "kayak"; lengths 3, 5, 1, 5 tokens, so the average is 3.5 (over the matches alone,
    // or counting distinct words, it would be something else).
    const idf = Math.log(1 + (4 - 2 + 0.5) / (2 + 0.5));
    const bm25 = (tf: number, dl: number) => (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * dl) / 3.5));
    expect(hits.map((h) => h.messageId)).toEqual(['u0', 'u1']);
    expect(hits[0]!.score).toBeCloseTo(bm25(2, 3), 6);
    expect(hits[1]!.score).toBeCloseTo(bm25(1, 1), 6);
  });

  it('scopes by tenant, conversation, user and sequence', async () => {
    const all = await searchMessages(db, { tenantId: 'acme', text: 'quokka', limit: 10 });
    expect(all.map((h) => `${h.conversationId}/${h.messageId}`).sort()).toEqual(['trip/a0', 'trip/u0', 'work/u0']);
    const other = await searchMessages(db, { tenantId: 'globex', text: 'quokka', limit: 10 });
    expect(other.map((h) => h.messageId)).toEqual(['u0']);
    expect(await searchMessages(db, { tenantId: 'acme', text: 'quokka', userId: 'someone-else', limit: 10 })).toEqual(
      [],
    );
    expect(await searchMessages(db, { tenantId: 'acme', text: 'quokka', userId: 'user-1', limit: 10 })).toHaveLength(3);
    const before = await searchMessages(db, {
      tenantId: 'acme',
      conversationId: 'trip',
      text: 'Lisbon',
      beforeSeq: 4,
      limit: 10,
    });
    expect(before.map((h) => h.messageId)).toEqual(['u1']);
  });

  it('finds nothing for a query of stopwords or punctuation, and never chokes on tsquery syntax', async () => {
    expect(await searchMessages(db, { tenantId: 'acme', text: 'what is the', limit: 5 })).toEqual([]);
    expect(await searchMessages(db, { tenantId: 'acme', text: '?!', limit: 5 })).toEqual([]);
    const hostile = await searchMessages(db, { tenantId: 'acme', text: "quokka' & !(zoo) | <-> :* \\", limit: 5 });
    expect(hostile.map((h) => h.messageId)).toContain('u0');
    expect(orTsQuery("it's a quokka!")).toBe('it | quokka');
  });

  it('is served by the GIN index from the migration', async () => {
    const plans: string[] = [];
    const rollback = new Error('rollback');
    // A tenant with thousands of messages, analysed, so the planner costs the query as it would in production;
    // all of it is rolled back.
    const outcome = db.transaction(async (tx) => {
      await tx.query(`INSERT INTO conversations (tenant_id, conversation_id, user_id) VALUES ('acme', 'bulk', 'u')`);
      await tx.query(
        `INSERT INTO messages (tenant_id, conversation_id, seq, message_id, role, content)
         SELECT 'acme', 'bulk', n, 'b' || n, 'user', 'filler message ' || n || ' about nothing in particular'
           FROM generate_series(1, 5000) AS n`,
      );
      await tx.query('ANALYZE messages');
      await searchMessages(
        {
          query: async (sql, params) => {
            const rows = await tx.query<Record<string, string>>(`EXPLAIN ${sql}`, params);
            plans.push(...rows.map((r) => Object.values(r)[0]!));
            return [];
          },
          exec: (sql) => tx.exec(sql),
        },
        { tenantId: 'acme', text: 'quokka zoo', limit: 5 },
      );
      throw rollback;
    });
    await expect(outcome).rejects.toBe(rollback);
    expect(plans.join('\n')).toMatch(/Bitmap Index Scan on messages_content_tsv/);
    expect((await searchMessages(db, { tenantId: 'acme', text: 'filler', limit: 5 })).length).toBe(0);
  });

  it('reads each message’s stored lexemes rather than parsing its text again on every search', async () => {
    const plans: string[] = [];
    await searchMessages(
      {
        query: async (sql, params) => {
          const rows = await db.query<Record<string, string>>(`EXPLAIN VERBOSE ${sql}`, params);
          plans.push(...rows.map((r) => Object.values(r)[0]!));
          return [];
        },
        exec: (sql) => db.exec(sql),
      },
      { tenantId: 'acme', conversationId: 'trip', text: 'quokka zoo Lisbon', limit: 5 },
    );
    const plan = plans.join('\n');
    expect(plan).toMatch(/content_tsv/);
    // The query's own text is parsed once; a message's content never is.
    expect(plan).not.toMatch(/to_tsvector\([^)]*content\)/);
  });
});
