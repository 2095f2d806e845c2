/**
 * Both semantic stores against the same contract: Weaviate (the test server, one fresh collection per test) and
 * pgvector inside PGlite (one fresh table per test). Vectors come from the local embedder.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import weaviate, { type WeaviateClient } from 'weaviate-client';
import { LocalEmbedder } from '../../src/memory/embedders/local';
import { PgvectorStore } from '../../src/memory/pgvector-store';
import { memoryRecordId, type MemoryKind, type MemoryRecord, type SemanticStore } from '../../src/memory/types';
import { WeaviateStore, weaviateTenantName } from '../../src/memory/weaviate-store';
import { openPglite, type Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';
import { TEST_SERVICES } from '../helpers/services';

const hex = () => randomBytes(5).toString('hex');
const embedder = new LocalEmbedder();
const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

interface Engine {
  /** A store on a fresh collection or table, and how to remove it. */
  open(): Promise<{ store: SemanticStore; remove: () => Promise<void> }>;
  close(): Promise<void>;
}

const engines: [string, () => Promise<Engine>][] = [
  [
    'Weaviate',
    async () => {
      const client: WeaviateClient = await weaviate.connectToLocal(TEST_SERVICES.weaviate);
      return {
        async open() {
          const collection = `MemoirTest_${hex()}`;
          const store = new WeaviateStore(client, { collection, dimensions: embedder.dimensions });
          return { store, remove: () => client.collections.delete(collection) };
        },
        close: () => client.close(),
      };
    },
  ],
  [
    'pgvector in PGlite',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-pgvector-'));
      const db: Db = await openPglite(path.join(dir, 'db'));
      await migrate(db);
      return {
        async open() {
          const store = new PgvectorStore(db, { dimensions: embedder.dimensions, tablePrefix: `mem_${hex()}` });
          return { store, remove: () => db.exec(`DROP TABLE ${store.table}`) };
        },
        close: async () => (await db.close(), fs.rmSync(dir, { recursive: true, force: true })),
      };
    },
  ],
];

interface Spec {
  conversationId: string;
  userId: string;
  sourceId: string;
  text: string;
  chunk?: number;
  kind?: MemoryKind;
}

// Tenant-relative names: each tenant gets the same corpus under its own ids.
const CORPUS: Spec[] = [
  {
    conversationId: 'c1',
    userId: 'u1',
    sourceId: 'm1',
    text: 'I adopted a golden retriever puppy named Biscuit last spring.',
  },
  {
    conversationId: 'c1',
    userId: 'u1',
    sourceId: 'm2',
    text: 'My favourite pasta recipe uses fresh basil and garlic.',
  },
  {
    conversationId: 'c1',
    userId: 'u1',
    sourceId: 'm2',
    chunk: 1,
    text: 'Then the pasta gets parmesan and more basil.',
  },
  {
    conversationId: 'c1',
    userId: 'u1',
    sourceId: 'm3',
    text: 'The quarterly budget review is scheduled for Thursday.',
  },
  { conversationId: 'c1', userId: 'u1', sourceId: 'm4', text: 'Remember: the guest wifi password is zx81-quasar.' },
  {
    conversationId: 'c2',
    userId: 'u1',
    sourceId: 'm5',
    text: 'We are planning a hiking trip to the Dolomites in July.',
  },
  { conversationId: 'c2', userId: 'u1', sourceId: 'f1', kind: 'fact', text: 'The user is allergic to peanuts.' },
  { conversationId: 'c3', userId: 'u2', sourceId: 'm6', text: 'Our golden retriever loves running on the beach.' },
];

async function recordsOf(tenantId: string, specs: Spec[] = CORPUS): Promise<MemoryRecord[]> {
  const vectors = await embedder.embed(
    specs.map((s) => s.text),
    'document',
  );
  return specs.map((s, i) => {
    const kind = s.kind ?? 'message';
    const chunk = s.chunk ?? 0;
    return {
      id: memoryRecordId({ conversationId: s.conversationId, kind, sourceId: s.sourceId, chunk }),
      tenantId,
      conversationId: s.conversationId,
      userId: s.userId,
      kind,
      sourceId: s.sourceId,
      seq: kind === 'message' ? i + 1 : null,
      chunk,
      text: s.text,
      vector: vectors[i]!,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
    };
  });
}

const query = async (tenantId: string, text: string, extra: object = {}) => ({
  tenantId,
  text,
  vector: (await embedder.embed([text], 'query'))[0]!,
  limit: 20,
  ...extra,
});

describe.each(engines)('semantic store on %s', (_name, makeEngine) => {
  let engine: Engine;
  let store: SemanticStore;
  let remove: () => Promise<void>;
  // Fresh tenants per test; B has a dot, which Weaviate tenant names do not allow.
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => void (engine = await makeEngine()));
  afterAll(() => engine.close());
  beforeEach(async () => {
    ({ store, remove } = await engine.open());
    // Two processes starting at once both ensure the schema.
    await Promise.all([store.ensureReady(), store.ensureReady()]);
    await store.ensureReady();
    tenantA = `acme-${hex()}`;
    tenantB = `globex.corp-${hex()}`;
  });
  afterEach(() => remove());

  it('upserts idempotently: the same id twice is one record, the last version', async () => {
    const [first] = await recordsOf(tenantA, CORPUS.slice(0, 1));
    await store.upsert([first!]);
    await store.upsert([first!, { ...first!, text: 'rewritten text' }]);
    await store.upsert([{ ...first!, text: 'rewritten again' }]);
    const hits = await store.searchVector({ ...(await query(tenantA, 'anything')), conversationId: 'c1' });
    expect(hits.map((h) => [h.record.id, h.record.text])).toEqual([[first!.id, 'rewritten again']]);
    expect(hits[0]!.record).toEqual({ ...first!, text: 'rewritten again', vector: undefined, tenantId: tenantA });
  });

  it('finds the nearest records by vector, with cosine similarity as the score', async () => {
    const records = await recordsOf(tenantA);
    await store.upsert(records);
    const q = await query(tenantA, 'the golden retriever puppy Biscuit');
    const hits = await store.searchVector(q);
    expect(hits[0]!.record.sourceId).toBe('m1');
    expect(hits[1]!.record.sourceId).toBe('m6');
    expect(hits[0]!.score).toBeCloseTo(cosine(q.vector, records[0]!.vector), 4);
    const scores = hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(hits).toHaveLength(records.length);
    expect(await store.searchVector({ ...q, limit: 3 })).toHaveLength(3);
  });

  it('hybrid search finds an exact rare keyword that vector search ranks lower', async () => {
    await store.upsert(await recordsOf(tenantA));
    // The vector points at pasta, as a neural model's might for an identifier it has no meaning for.
    const q = { ...(await query(tenantA, 'pasta with basil')), text: 'zx81-quasar', limit: 2 };
    const byVector = await store.searchVector(q);
    expect(byVector.map((h) => h.record.sourceId)).toEqual(['m2', 'm2']);
    const hybrid = await store.searchHybrid(q);
    expect(hybrid.map((h) => h.record.sourceId)).toContain('m4');
    expect(hybrid.map((h) => h.record.sourceId)).toContain('m2');
    expect(hybrid[0]!.score).toBeGreaterThan(0);
  });

  it("never returns another tenant's records", async () => {
    await store.upsert([...(await recordsOf(tenantA)), ...(await recordsOf(tenantB))]);
    expect(weaviateTenantName(tenantB)).toMatch(/^h-[0-9a-f]{40}$/);
    for (const tenant of [tenantA, tenantB]) {
      const q = await query(tenant, 'golden retriever puppy');
      const hits = [...(await store.searchVector(q)), ...(await store.searchHybrid(q))];
      expect(hits.length).toBeGreaterThan(0);
      expect(new Set(hits.map((h) => h.record.tenantId))).toEqual(new Set([tenant]));
    }
    // A tenant that never stored anything has nothing, and nothing to delete.
    const nobody = `nobody-${hex()}`;
    expect(await store.searchVector(await query(nobody, 'golden retriever'))).toEqual([]);
    expect(await store.searchHybrid(await query(nobody, 'golden retriever'))).toEqual([]);
    expect(await store.indexedSourceIds(nobody, 'c1')).toEqual(new Set());
    expect(await store.deleteConversation(nobody, 'c1')).toBe(0);
    expect(await store.deleteUser(nobody, 'u1')).toBe(0);
  });

  it('filters by conversation, user and kind', async () => {
    await store.upsert(await recordsOf(tenantA));
    const q = await query(tenantA, 'golden retriever hiking pasta peanuts');
    for (const search of [store.searchVector.bind(store), store.searchHybrid.bind(store)]) {
      const inC2 = await search({ ...q, conversationId: 'c2' });
      expect(inC2.map((h) => h.record.sourceId).sort()).toEqual(['f1', 'm5']);
      const ofU2 = await search({ ...q, userId: 'u2' });
      expect(ofU2.map((h) => h.record.sourceId)).toEqual(['m6']);
      const facts = await search({ ...q, kinds: ['fact'] });
      expect(facts.map((h) => h.record)).toEqual([
        expect.objectContaining({ sourceId: 'f1', kind: 'fact', seq: null }),
      ]);
      expect(await search({ ...q, conversationId: 'c1', userId: 'u2' })).toEqual([]);
    }
  });

  it('lists the indexed sources of a conversation', async () => {
    await store.upsert(await recordsOf(tenantA));
    expect(await store.indexedSourceIds(tenantA, 'c1')).toEqual(new Set(['m1', 'm2', 'm3', 'm4']));
    expect(await store.indexedSourceIds(tenantA, 'c2')).toEqual(new Set(['m5', 'f1']));
    expect(await store.indexedSourceIds(tenantA, 'nope')).toEqual(new Set());
  });

  it('deletes a conversation completely, and nothing else', async () => {
    await store.upsert([...(await recordsOf(tenantA)), ...(await recordsOf(tenantB))]);
    expect(await store.deleteConversation(tenantA, 'c1')).toBe(5);
    expect(await store.indexedSourceIds(tenantA, 'c1')).toEqual(new Set());
    expect(await store.searchHybrid({ ...(await query(tenantA, 'pasta basil')), conversationId: 'c1' })).toEqual([]);
    expect(await store.indexedSourceIds(tenantA, 'c2')).toEqual(new Set(['m5', 'f1']));
    expect(await store.indexedSourceIds(tenantB, 'c1')).toEqual(new Set(['m1', 'm2', 'm3', 'm4']));
    expect(await store.deleteConversation(tenantA, 'c1')).toBe(0);
  });

  it("deletes a user's records in every conversation, and nobody else's", async () => {
    await store.upsert([...(await recordsOf(tenantA)), ...(await recordsOf(tenantB))]);
    expect(await store.deleteUser(tenantA, 'u1')).toBe(7);
    expect(await store.searchVector({ ...(await query(tenantA, 'anything at all')), userId: 'u1' })).toEqual([]);
    const left = await store.searchVector(await query(tenantA, 'golden retriever'));
    expect(left.map((h) => h.record.sourceId)).toEqual(['m6']);
    expect(await store.indexedSourceIds(tenantB, 'c2')).toEqual(new Set(['m5', 'f1']));
  });

  it('pages through large conversations', async () => {
    const many: Spec[] = Array.from({ length: 1203 }, (_, i) => ({
      conversationId: 'big',
      userId: 'u1',
      sourceId: `s${String(i % 1201).padStart(5, '0')}`,
      chunk: i < 1201 ? 0 : 1,
      text: `note ${i} about item ${i % 13}`,
    }));
    await store.upsert(await recordsOf(tenantA, many));
    const sources = await store.indexedSourceIds(tenantA, 'big');
    expect(sources.size).toBe(1201);
    expect(await store.deleteConversation(tenantA, 'big')).toBe(1203);
    expect(await store.indexedSourceIds(tenantA, 'big')).toEqual(new Set());
  });

  it('fills the limit under a selective filter, even when the nearest neighbours are all filtered out', async () => {
    // 800 records in one conversation all near the query; 3 far ones in another. An index that first takes its
    // nearest few dozen and then filters would find none of the 3.
    const crowd: Spec[] = Array.from({ length: 800 }, (_, i) => ({
      conversationId: 'crowd',
      userId: 'u1',
      sourceId: `s${i}`,
      text: `golden retriever puppy photo number ${i}`,
    }));
    const few: Spec[] = ['tax return deadline', 'dentist appointment', 'piano lesson'].map((text, i) => ({
      conversationId: 'few',
      userId: 'u2',
      sourceId: `f${i}`,
      text,
    }));
    await store.upsert(await recordsOf(tenantA, [...crowd, ...few]));
    const q = { ...(await query(tenantA, 'golden retriever puppy photo')), limit: 3 };
    expect(await store.searchVector({ ...q, conversationId: 'few' })).toHaveLength(3);
    expect(await store.searchHybrid({ ...q, conversationId: 'few' })).toHaveLength(3);
    expect(await store.searchVector({ ...q, userId: 'u2' })).toHaveLength(3);
  });

  it('refuses vectors of the wrong dimension with a clear error', async () => {
    const [record] = await recordsOf(tenantA, CORPUS.slice(0, 1));
    await expect(store.upsert([{ ...record!, vector: [1, 0, 0] }])).rejects.toThrow(/3-dimensional vector/);
    await expect(store.searchVector({ ...(await query(tenantA, 'x')), vector: [1, 0] })).rejects.toThrow(
      /2-dimensional vector/,
    );
  });
});
