/**
 * The memory tiers a process uses, chosen from the configuration: Redis (hot tier and the L2 cache) when
 * REDIS_URL is set; the semantic store (Weaviate, pgvector in PGlite, or none) and its embedder.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { BatchingEmbedder } from '../memory/embedders/batching';
import { LocalEmbedder } from '../memory/embedders/local';
import { MINILM_DIMENSIONS, MiniLmEmbedder } from '../memory/embedders/minilm';
import { OpenAICompatibleEmbedder } from '../memory/embedders/openai-compatible';
import { RedisEmbeddingCache } from '../memory/embedders/redis-cache';
import { VoyageEmbedder } from '../memory/embedders/voyage';
import { NO_HOT_TIER, RedisHotTier, type HotTier } from '../memory/hot-tier';
import { PgvectorStore } from '../memory/pgvector-store';
import { connectRedis } from '../memory/redis';
import { SemanticTier } from '../memory/semantic-tier';
import type { CachedArchive } from '../memory/summaries';
import { TwoLevelCache } from '../memory/two-level-cache';
import type { Embedder, SemanticStore } from '../memory/types';
import { connectWeaviateStore } from '../memory/weaviate-store';
import type { Db } from '../storage/db';

const DEFAULT_COLLECTION = 'MemoirMemory';

export interface MemoryTiers {
  redis: Redis | undefined;
  hot: HotTier;
  semantic: SemanticTier | undefined;
  summaryCache: TwoLevelCache<CachedArchive>;
  choices: string[];
  close(): Promise<void>;
}

/**
 * `auto`: Voyage with a key, else lexical hashing. The neural local model is opt-in (`minilm`): it adds recall but
 * costs ~20 ms of CPU and ~110 MB per worker to index with (docs/embedders.md has the figures).
 */
export function embedderKind(e: Config['memory']['embedder']): 'minilm' | 'local' | 'voyage' | 'openai' {
  if (e.kind !== 'auto') return e.kind;
  return e.voyageApiKey ? 'voyage' : 'local';
}

export function createEmbedder(config: Config, redis: Redis | undefined): Embedder {
  const e = config.memory.embedder;
  const kind = embedderKind(e);
  let inner: Embedder;
  if (kind === 'minilm') {
    if (e.dimensions !== undefined && e.dimensions !== MINILM_DIMENSIONS) {
      throw new Error(
        `MEMOIR_EMBEDDER=minilm makes ${MINILM_DIMENSIONS}-dimensional vectors: unset MEMOIR_EMBEDDING_DIMENSIONS`,
      );
    }
    inner = new MiniLmEmbedder({ modelDir: e.modelDir });
  } else if (kind === 'voyage') {
    if (!e.voyageApiKey) throw new Error('MEMOIR_EMBEDDER=voyage needs VOYAGE_API_KEY');
    inner = new VoyageEmbedder({
      apiKey: e.voyageApiKey,
      ...(e.model ? { model: e.model } : {}),
      ...(e.dimensions ? { dimensions: e.dimensions } : {}),
      ...(e.url ? { baseUrl: e.url } : {}),
    });
  } else if (kind === 'openai') {
    if (!e.url || !e.model || !e.dimensions) {
      throw new Error(
        'MEMOIR_EMBEDDER=openai needs MEMOIR_EMBEDDINGS_URL, MEMOIR_EMBEDDING_MODEL and MEMOIR_EMBEDDING_DIMENSIONS',
      );
    }
    inner = new OpenAICompatibleEmbedder({
      baseUrl: e.url,
      model: e.model,
      dimensions: e.dimensions,
      ...(e.apiKey ? { apiKey: e.apiKey } : {}),
    });
  } else {
    inner = new LocalEmbedder(e.dimensions ? { dimensions: e.dimensions } : {});
  }
  return new BatchingEmbedder(inner, redis ? { l2: new RedisEmbeddingCache(redis) } : {});
}

async function createStore(config: Config, db: Db, embedder: Embedder): Promise<SemanticStore | undefined> {
  const { dimensions } = embedder;
  // Vectors of different models never share a table or collection, even at one dimension; the hash, Voyage and
  // OpenAI-compatible embedders keep the names they always had (one per dimension).
  const ownTable = embedder.id.startsWith('minilm') ? 'minilm' : undefined;
  const m = config.memory;
  const kind =
    m.semanticStore === 'auto'
      ? m.weaviate.url
        ? 'weaviate'
        : db.kind === 'pglite'
          ? 'pgvector'
          : 'off'
      : m.semanticStore;
  if (kind === 'off') return undefined;
  if (kind === 'pgvector') {
    if (db.kind !== 'pglite')
      throw new Error('MEMOIR_SEMANTIC_STORE=pgvector needs the embedded database (PGlite has pgvector)');
    return new PgvectorStore(db, { dimensions, ...(ownTable ? { tablePrefix: `memories_${ownTable}` } : {}) });
  }
  if (!m.weaviate.url) throw new Error('MEMOIR_SEMANTIC_STORE=weaviate needs WEAVIATE_URL');
  const url = new URL(m.weaviate.url);
  return connectWeaviateStore({
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    grpcPort: m.weaviate.grpcPort,
    secure: url.protocol === 'https:',
    ...(m.weaviate.apiKey ? { apiKey: m.weaviate.apiKey } : {}),
    collection:
      ownTable && m.weaviate.collection === DEFAULT_COLLECTION
        ? `${DEFAULT_COLLECTION}_${ownTable}`
        : m.weaviate.collection,
    dimensions,
  });
}

export async function openMemory(
  config: Config,
  db: Db,
  metrics: Metrics,
  log: Logger,
  forIndex: (text: string) => string,
): Promise<MemoryTiers> {
  const redis = config.redisUrl ? await connectRedis(config.redisUrl) : undefined;
  const hot: HotTier = redis
    ? new RedisHotTier(redis, { ttlSeconds: Math.round(config.memory.hotTtlMs / 1000), keep: 400 })
    : NO_HOT_TIER;
  const embedder = createEmbedder(config, redis);
  let store: SemanticStore | undefined;
  try {
    store = await createStore(config, db, embedder);
    await store?.ensureReady();
  } catch (err) {
    if (!store) throw err;
    // The store is down at start: keep it, turns go without it (flagged) and indexing catches up later.
    metrics.tierErrors.inc({ tier: 'semantic' });
    log.warn({ err }, 'semantic store is not ready; continuing without it until it answers');
  }
  const semantic = store ? new SemanticTier(store, embedder, forIndex) : undefined;
  const summaryCache = new TwoLevelCache<CachedArchive>(redis, {
    // Named for its value's shape: entries cached under the old name (one summary, not an archive) are not read.
    name: 'summary-archive',
    maxEntries: 10_000,
    l1TtlMs: 60_000,
    l2TtlSeconds: 3_600,
    onL2Error: () => metrics.tierErrors.inc({ tier: 'cache' }),
  });
  return {
    redis,
    hot,
    semantic,
    summaryCache,
    choices: [
      `Hot tier and caches: ${redis ? `Redis at ${config.redisUrl} (in-process L1 in front)` : 'in-process (no Redis)'}`,
      `Semantic memory: ${semantic ? semantic.description : 'off (set WEAVIATE_URL, or use the embedded database for pgvector)'}`,
    ],
    async close() {
      await store?.close().catch(() => undefined);
      redis?.disconnect();
    },
  };
}
