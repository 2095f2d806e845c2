/**
 * The local neural embedder (all-MiniLM-L6-v2, int8 ONNX, in process): unit-length 384-dimensional vectors that
 * know paraphrases the hash embedder cannot see, texts cut at 256 tokens, and a start-up error naming the setup
 * step when its files are missing. The model files are a product of `make setup` (scripts/models.sh), which
 * `make test` runs first; nothing here downloads anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { LocalEmbedder } from '../../src/memory/embedders/local';
import {
  DEFAULT_MINILM_DIR,
  EmbedderModelMissingError,
  MINILM_FILES,
  MiniLmEmbedder,
} from '../../src/memory/embedders/minilm';
import { PgvectorStore } from '../../src/memory/pgvector-store';
import { SemanticTier } from '../../src/memory/semantic-tier';
import { createEmbedder } from '../../src/runtime/memory';
import { openPglite } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('MiniLmEmbedder', () => {
  let embedder: MiniLmEmbedder;
  beforeAll(() => {
    embedder = new MiniLmEmbedder({ modelDir: DEFAULT_MINILM_DIR });
  });
  afterAll(() => embedder.close());

  it('returns unit-length 384-dimensional vectors, in input order, the same alone as in a batch', async () => {
    const texts = ['hi', 'A much longer sentence about a trip to Lisbon, with punctuation!', '', 'Caroline'];
    const batch = await embedder.embed(texts, 'document');
    expect(embedder.id).toBe('minilm-l6-v2-int8');
    expect(batch).toHaveLength(texts.length);
    for (const v of batch) {
      expect(v).toHaveLength(384);
      expect(Math.hypot(...v)).toBeCloseTo(1, 6);
    }
    // Sorting by length and padding within a pass must not change a text's vector or its place.
    for (const [i, text] of texts.entries()) {
      const [alone] = await embedder.embed([text], 'query');
      expect(cosine(alone!, batch[i]!)).toBeGreaterThan(0.9999);
    }
  });

  it('ranks a paraphrase that shares no content word above an unrelated sentence', async () => {
    const cases: [string, string, string][] = [
      // [anchor, paraphrase, unrelated]
      ['I bought a new car last week.', 'Recently I purchased an automobile.', 'The soup needs more salt.'],
      ['My holiday flight to Portugal is booked.', 'I have tickets for a vacation in Lisbon.', 'My cat ate a plant.'],
      ['She attended a support group meeting.', 'Caroline went to a counselling session.', 'Stocks fell sharply.'],
    ];
    const hash = new LocalEmbedder();
    let hashWins = 0;
    for (const [anchor, paraphrase, unrelated] of cases) {
      const [a, p, u] = await embedder.embed([anchor, paraphrase, unrelated], 'document');
      expect(cosine(a!, p!), `${anchor} ~ ${paraphrase}`).toBeGreaterThan(cosine(a!, u!) + 0.2);
      const [ha, hp, hu] = await hash.embed([anchor, paraphrase, unrelated], 'document');
      if (cosine(ha!, hp!) > cosine(ha!, hu!) + 0.2) hashWins++;
    }
    // What the neural model adds: lexical hashing does not separate these pairs by the same margin.
    expect(hashWins).toBeLessThan(cases.length);
  });

  it('cuts a text at 256 tokens: what follows does not change its vector', async () => {
    const long = 'We talked about painting and camping. '.repeat(60);
    const [a, b, short] = await embedder.embed([long, `${long} Then a different topic: tax law.`, 'tax law'], 'query');
    expect(cosine(a!, b!)).toBeGreaterThan(0.99999);
    expect(cosine(a!, short!)).toBeLessThan(0.5);
  });
});

describe('the minilm embedder in the embedded store (pgvector in PGlite)', () => {
  it('indexes 384-dimensional vectors and finds a message by a paraphrase that shares none of its words', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'memoir-minilm-pg-'));
    const db = await openPglite(path.join(dir, 'db'));
    const embedder = new MiniLmEmbedder({ modelDir: DEFAULT_MINILM_DIR });
    try {
      await migrate(db);
      const store = new PgvectorStore(db, { dimensions: embedder.dimensions, tablePrefix: 'memories_minilm' });
      expect(store.table).toBe('memories_minilm_384');
      const semantic = new SemanticTier(store, embedder);
      await store.ensureReady();
      const texts = ['The soup needs more salt.', 'I purchased an automobile recently.', 'Stocks fell today.'];
      const messages = texts.map((content, i) => ({
        messageId: `m${i}`,
        seq: i + 1,
        role: 'user' as const,
        content,
        createdAt: new Date(),
        inReplyTo: null,
        model: null,
        degraded: false,
      }));
      const scope = { tenantId: 't', conversationId: 'c', userId: 'u' };
      expect(await semantic.indexMessages(scope, messages)).toBe(3);
      const [query] = await embedder.embed(['my new car'], 'query');
      const hits = await store.searchVector({ tenantId: 't', conversationId: 'c', text: '', vector: query!, limit: 3 });
      expect(hits[0]?.record.sourceId).toBe('m1');
    } finally {
      await embedder.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('choosing the minilm embedder', () => {
  let empty: string;
  beforeAll(() => {
    empty = mkdtempSync(path.join(os.tmpdir(), 'memoir-no-model-'));
  });
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('fails at start-up, naming the setup step, when MEMOIR_EMBEDDER=minilm and the files are missing', () => {
    const config = loadConfig({ MEMOIR_EMBEDDER: 'minilm', MEMOIR_EMBEDDER_MODEL_DIR: empty });
    expect(() => createEmbedder(config, undefined)).toThrow(EmbedderModelMissingError);
    expect(() => createEmbedder(config, undefined)).toThrow(/make setup.*scripts\/models\.sh/);
    try {
      createEmbedder(config, undefined);
    } catch (err) {
      expect((err as EmbedderModelMissingError).missing).toEqual([...MINILM_FILES]);
    }
  });

  it('is chosen by MEMOIR_EMBEDDER=minilm only: `auto` keeps the hash embedder even with the files there', () => {
    const minilm = loadConfig({ MEMOIR_EMBEDDER: 'minilm', MEMOIR_EMBEDDER_MODEL_DIR: DEFAULT_MINILM_DIR });
    expect(createEmbedder(minilm, undefined).id).toBe('minilm-l6-v2-int8');
    const auto = loadConfig({ MEMOIR_EMBEDDER_MODEL_DIR: DEFAULT_MINILM_DIR });
    expect(createEmbedder(auto, undefined).id).toBe('local-hash-v1-512');
  });

  it('refuses a dimension the model does not make', () => {
    const config = loadConfig({ MEMOIR_EMBEDDER: 'minilm', MEMOIR_EMBEDDING_DIMENSIONS: '512' });
    expect(() => createEmbedder(config, undefined)).toThrow(/384-dimensional/);
  });
});
