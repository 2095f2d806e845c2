/**
 * The semantic store of server deployments: one Weaviate collection with multi-tenancy, one Weaviate tenant per
 * Memoir tenant. A tenant is its own shard, so one tenant's search cannot see another's objects and erasing a
 * tenant is dropping its shard. Vectors are ours (self-provided); Weaviate adds BM25 over `text` for hybrid search.
 *
 * Object UUIDs are UUIDv5 of the record id, so inserting a record again replaces it: upserts are idempotent.
 */
import { createHash } from 'node:crypto';
import weaviate, {
  Filters,
  generateUuid5,
  type Collection,
  type FilterValue,
  type WeaviateClient,
} from 'weaviate-client';
import { z } from 'zod';
import type { MemoryHitRecord, MemoryRecord, SearchHit, SearchQuery, SemanticStore } from './types';

export interface WeaviateStoreOptions {
  /** Default `MemoirMemory`. Vectors of different embedders do not mix: give each dimension its own collection. */
  collection?: string;
  /** Hybrid weight of the vector side (0 = BM25 only, 1 = vector only). Default 0.5. */
  alpha?: number;
  /** When set, records and queries with another vector length are refused before they reach Weaviate. */
  dimensions?: number;
  /** Objects per batch insert. Default 500. */
  batchSize?: number;
}

export interface WeaviateConnectOptions extends WeaviateStoreOptions {
  host: string;
  port: number;
  grpcPort: number;
  /** HTTPS and TLS gRPC. Default false. */
  secure?: boolean;
  apiKey?: string;
}

type MemoryProps = {
  recordId: string;
  conversationId: string;
  userId: string;
  kind: string;
  sourceId: string;
  seq?: number;
  chunk: number;
  text: string;
  createdAt: Date;
};

// Weaviate returns properties as loosely typed fields; check them before they become records.
const propsSchema = z.object({
  recordId: z.string(),
  conversationId: z.string(),
  userId: z.string(),
  kind: z.enum(['message', 'fact', 'summary']),
  sourceId: z.string(),
  seq: z.number().int().nullish(),
  chunk: z.number().int(),
  text: z.string(),
  createdAt: z.coerce.date(),
});

const RETURN_PROPERTIES = Object.keys(propsSchema.shape) as (keyof MemoryProps)[];
const PAGE = 1000;
// Identifiers compared exactly: one token per value, kept out of BM25.
const keyword = <K extends 'recordId' | 'conversationId' | 'userId' | 'kind' | 'sourceId'>(name: K) =>
  ({ name, dataType: 'text', tokenization: 'field', indexSearchable: false }) as const;

/**
 * Weaviate tenant names allow `[A-Za-z0-9_-]{1,64}`; Memoir ids may also hold dots and reach 128 characters, and
 * those are hashed to `h-<40 hex>`. Every name starting `h-` is a hash (a literal id of that form is hashed too),
 * so a tenant can never be given the name another tenant's id hashes to.
 */
export function weaviateTenantName(tenantId: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(tenantId) && !tenantId.startsWith('h-')) return tenantId;
  return `h-${createHash('sha256').update(tenantId).digest('hex').slice(0, 40)}`;
}

/** Connects a client that the returned store owns (its `close()` closes the client). */
export async function connectWeaviateStore(opts: WeaviateConnectOptions): Promise<WeaviateStore> {
  const auth = opts.apiKey ? { authCredentials: new weaviate.ApiKey(opts.apiKey) } : {};
  const client = opts.secure
    ? await weaviate.connectToCustom({
        httpHost: opts.host,
        httpPort: opts.port,
        httpSecure: true,
        grpcHost: opts.host,
        grpcPort: opts.grpcPort,
        grpcSecure: true,
        ...auth,
      })
    : await weaviate.connectToLocal({ host: opts.host, port: opts.port, grpcPort: opts.grpcPort, ...auth });
  return new WeaviateStore(client, opts, true);
}

/** A `SemanticStore` in one multi-tenant Weaviate collection; hybrid search is Weaviate's BM25 + vector. */
export class WeaviateStore implements SemanticStore {
  readonly kind = 'weaviate' as const;
  readonly collectionName: string;
  private readonly collection: Collection<MemoryProps>;
  private readonly knownTenants = new Set<string>();

  constructor(
    private readonly client: WeaviateClient,
    private readonly opts: WeaviateStoreOptions = {},
    private readonly ownsClient = false,
  ) {
    this.collectionName = opts.collection ?? 'MemoirMemory';
    this.collection = client.collections.get<MemoryProps>(this.collectionName);
  }

  async ensureReady(): Promise<void> {
    const name = this.collectionName;
    if (!(await this.client.collections.exists(name))) {
      try {
        await this.client.collections.create<MemoryProps>({
          name,
          multiTenancy: weaviate.configure.multiTenancy({
            enabled: true,
            autoTenantCreation: true,
            autoTenantActivation: true,
          }),
          vectorizers: weaviate.configure.vectors.selfProvided({
            vectorIndexConfig: weaviate.configure.vectorIndex.hnsw({ distanceMetric: 'cosine' }),
          }),
          properties: [
            keyword('recordId'),
            keyword('conversationId'),
            keyword('userId'),
            keyword('kind'),
            keyword('sourceId'),
            { name: 'seq', dataType: 'int' },
            { name: 'chunk', dataType: 'int' },
            { name: 'text', dataType: 'text', tokenization: 'word' },
            { name: 'createdAt', dataType: 'date' },
          ],
        });
      } catch (err) {
        // Another process created it between our check and our create: that is success.
        if (!(await this.client.collections.exists(name))) throw err;
      }
    }
    const config = await this.collection.config.get();
    if (!config.multiTenancy.enabled) {
      throw new Error(`weaviate store: collection ${name} exists without multi-tenancy; use another collection name`);
    }
  }

  async upsert(records: MemoryRecord[]): Promise<void> {
    const byTenant = new Map<string, Map<string, MemoryRecord>>();
    for (const r of records) {
      this.checkVector(r.vector, r.id);
      // The last record of an id wins, as with consecutive upserts.
      const tenant = byTenant.get(r.tenantId) ?? new Map<string, MemoryRecord>();
      byTenant.set(r.tenantId, tenant.set(r.id, r));
    }
    const size = this.opts.batchSize ?? 500;
    for (const [tenantId, unique] of byTenant) {
      const tenant = await this.writableTenant(tenantId);
      const all = [...unique.values()];
      for (let i = 0; i < all.length; i += size) {
        const batch = all.slice(i, i + size);
        const result = await tenant.data.insertMany(batch.map(toObject));
        if (result.hasErrors) {
          const errors = Object.values(result.errors);
          throw new Error(
            `weaviate store: ${errors.length} of ${batch.length} objects failed for tenant ${tenantId}: ${errors[0]?.message}`,
          );
        }
      }
    }
  }

  async searchVector(q: SearchQuery): Promise<SearchHit[]> {
    this.checkVector(q.vector, 'query');
    const filters = filtersFor(this.collection, q);
    const result = await this.ifTenant(q.tenantId, { objects: [] }, (t) =>
      t.query.nearVector(q.vector, {
        limit: q.limit,
        returnMetadata: ['distance'],
        returnProperties: RETURN_PROPERTIES,
        ...(filters ? { filters } : {}),
      }),
    );
    // Cosine distance is 1 − cosine similarity.
    return result.objects.map((o) => ({
      record: toRecord(q.tenantId, o.properties),
      score: 1 - (o.metadata?.distance ?? 1),
    }));
  }

  async searchHybrid(q: SearchQuery): Promise<SearchHit[]> {
    if (q.text.trim() === '') return this.searchVector(q);
    this.checkVector(q.vector, 'query');
    const filters = filtersFor(this.collection, q);
    const result = await this.ifTenant(q.tenantId, { objects: [] }, (t) =>
      t.query.hybrid(q.text, {
        vector: q.vector,
        alpha: this.opts.alpha ?? 0.5,
        // Relative-score fusion keeps how far apart the scores are, which pure rank fusion throws away.
        fusionType: 'RelativeScore',
        queryProperties: ['text'],
        limit: q.limit,
        returnMetadata: ['score'],
        returnProperties: RETURN_PROPERTIES,
        ...(filters ? { filters } : {}),
      }),
    );
    return result.objects.map((o) => ({ record: toRecord(q.tenantId, o.properties), score: o.metadata?.score ?? 0 }));
  }

  async indexedSourceIds(tenantId: string, conversationId: string): Promise<Set<string>> {
    const ids = new Set<string>();
    const inConversation = this.collection.filter.byProperty('conversationId').equal(conversationId);
    // Keyset pagination on sourceId: offsets stop at Weaviate's QUERY_MAXIMUM_RESULTS, keysets do not.
    let after: string | undefined;
    for (;;) {
      const filters =
        after === undefined
          ? inConversation
          : Filters.and(inConversation, {
              ...this.collection.filter.byProperty('sourceId').equal(after),
              operator: 'GreaterThan',
            });
      const page = await this.ifTenant(tenantId, { objects: [] }, (t) =>
        t.query.fetchObjects({
          filters,
          sort: t.sort.byProperty('sourceId'),
          limit: PAGE,
          returnProperties: ['sourceId'],
        }),
      );
      for (const o of page.objects) ids.add(o.properties.sourceId);
      if (page.objects.length < PAGE) return ids;
      after = page.objects.at(-1)!.properties.sourceId;
    }
  }

  async deleteConversation(tenantId: string, conversationId: string): Promise<number> {
    return this.deleteWhere(tenantId, this.collection.filter.byProperty('conversationId').equal(conversationId));
  }

  async deleteUser(tenantId: string, userId: string): Promise<number> {
    return this.deleteWhere(tenantId, this.collection.filter.byProperty('userId').equal(userId));
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  // One delete removes at most QUERY_MAXIMUM_RESULTS objects (10,000 by default): repeat until none match.
  private async deleteWhere(tenantId: string, filter: FilterValue): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await this.ifTenant(tenantId, null, (t) => t.data.deleteMany(filter));
      if (result === null) return total;
      if (result.failed > 0) throw new Error(`weaviate store: ${result.failed} objects failed to delete`);
      total += result.successful;
      if (result.matches === 0 || result.successful === 0) return total;
    }
  }

  // Auto-creation covers a collection made by ensureReady; an explicit create covers one made without it.
  private async writableTenant(tenantId: string): Promise<Collection<MemoryProps>> {
    const name = weaviateTenantName(tenantId);
    if (!this.knownTenants.has(name)) {
      if (!(await this.collection.tenants.getByName(name))) {
        await this.collection.tenants.create({ name }).catch(async (err: unknown) => {
          if (!(await this.collection.tenants.getByName(name))) throw err;
        });
      }
      this.knownTenants.add(name);
    }
    return this.collection.withTenant(name);
  }

  // A tenant with nothing stored yet does not exist in Weaviate, and every read of it fails: that means "empty".
  private async ifTenant<T>(tenantId: string, empty: T, fn: (t: Collection<MemoryProps>) => Promise<T>): Promise<T> {
    try {
      return await fn(this.collection.withTenant(weaviateTenantName(tenantId)));
    } catch (err) {
      if (err instanceof Error && /tenant not found/i.test(err.message)) return empty;
      throw err;
    }
  }

  private checkVector(v: number[], what: string): void {
    const d = this.opts.dimensions;
    if (d !== undefined && v.length !== d) {
      throw new Error(
        `weaviate store: ${what} has a ${v.length}-dimensional vector; ${this.collectionName} holds ${d}`,
      );
    }
  }
}

function toObject(r: MemoryRecord) {
  return {
    id: generateUuid5(r.id),
    properties: {
      recordId: r.id,
      conversationId: r.conversationId,
      userId: r.userId,
      kind: r.kind,
      sourceId: r.sourceId,
      ...(r.seq !== null ? { seq: r.seq } : {}),
      chunk: r.chunk,
      text: r.text,
      createdAt: r.createdAt,
    },
    vectors: r.vector,
  };
}

function filtersFor(c: Collection<MemoryProps>, q: SearchQuery): FilterValue | undefined {
  const f: FilterValue[] = [];
  if (q.conversationId !== undefined) f.push(c.filter.byProperty('conversationId').equal(q.conversationId));
  if (q.userId !== undefined) f.push(c.filter.byProperty('userId').equal(q.userId));
  if (q.kinds !== undefined) f.push(c.filter.byProperty('kind').containsAny(q.kinds));
  return f.length === 0 ? undefined : f.length === 1 ? f[0] : Filters.and(...f);
}

function toRecord(tenantId: string, properties: unknown): MemoryHitRecord {
  const p = propsSchema.parse(properties);
  return {
    id: p.recordId,
    tenantId,
    conversationId: p.conversationId,
    userId: p.userId,
    kind: p.kind,
    sourceId: p.sourceId,
    seq: p.seq ?? null,
    chunk: p.chunk,
    text: p.text,
    createdAt: p.createdAt,
  };
}
