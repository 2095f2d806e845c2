/**
 * Wraps an embedder so that many small concurrent `embed()` calls (one per message, one per query) become a few
 * large provider requests, and no text is embedded twice: vectors are cached by a hash of (embedder id, kind,
 * text) in memory (L1) and, optionally, in a shared cache such as Redis (L2).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { EmbedKind, Embedder } from '../types';

/** A shared second-level cache of vectors by key. `RedisEmbeddingCache` implements it. */
export interface EmbeddingCache {
  get(key: string): Promise<number[] | undefined>;
  set(key: string, value: number[], ttlSeconds: number): Promise<void>;
  /** Deletes every key starting `<scope>/`; returns how many. */
  eraseScope?(scope: string): Promise<number>;
}

export interface BatchingEmbedderOptions {
  /** Flush a batch when this many texts are queued. Default 64. */
  maxBatch?: number;
  /**
   * Flush a batch of documents at the latest this long after its first text was queued. Default 10 ms. Queries
   * never wait for it: a turn waits on its query embedding, so queries go out as soon as the current burst of
   * calls has been queued (the next turn of the event loop).
   */
  maxWaitMs?: number;
  /** Vectors kept in process memory. Default 10,000 (about 40 MB at 512 dimensions). */
  cacheEntries?: number;
  l2?: EmbeddingCache;
  /** TTL of L2 entries. Default 30 days. */
  l2TtlSeconds?: number;
  /** A failing L2 never fails an embedding (it is only a cache); this hears about it. */
  onCacheError?: (err: unknown) => void;
}

export interface BatchingStats {
  /** Texts asked for. */
  texts: number;
  l1Hits: number;
  l2Hits: number;
  /** Texts that joined an identical text already in flight. */
  joined: number;
  /** Calls to the wrapped embedder, and the texts they carried. */
  batches: number;
  embedded: number;
}

interface Pending {
  key: string;
  text: string;
  resolve(v: number[]): void;
  reject(err: unknown): void;
}

/**
 * The cache key of a text: sha256 over the embedder id, the kind and the text, under its scope
 * (`<tenant>/<conversation>/…`) when it has one, so tenants never share an entry and a conversation's or a
 * tenant's entries can be erased together.
 */
export function embeddingCacheKey(embedderId: string, kind: EmbedKind, text: string, scope?: string): string {
  const hash = createHash('sha256').update(`${embedderId}\n${kind}\n${text}`).digest('hex');
  return scope === undefined ? hash : `${scope}/${hash}`;
}

/**
 * Coalesces and caches calls to another embedder; same id and dimensions as the one it wraps. Callers share the
 * cached arrays: treat returned vectors as read-only.
 */
export class BatchingEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly l1: LRUCache<string, number[]>;
  private readonly inflight = new Map<string, Promise<number[]>>();
  private readonly queues: Record<EmbedKind, Pending[]> = { query: [], document: [] };
  /** Cancels the pending flush of each kind's queue. */
  private readonly timers: Partial<Record<EmbedKind, () => void>> = {};
  private readonly background = new Set<Promise<unknown>>();
  private readonly counters: BatchingStats = { texts: 0, l1Hits: 0, l2Hits: 0, joined: 0, batches: 0, embedded: 0 };

  constructor(
    private readonly inner: Embedder,
    private readonly opts: BatchingEmbedderOptions = {},
  ) {
    this.id = inner.id;
    this.dimensions = inner.dimensions;
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxWaitMs = opts.maxWaitMs ?? 10;
    this.l1 = new LRUCache({ max: opts.cacheEntries ?? 10_000 });
  }

  async embed(texts: string[], kind: EmbedKind, cacheScope?: string): Promise<number[][]> {
    return Promise.all(texts.map((text) => this.one(text, kind, cacheScope)));
  }

  async forgetScope(cacheScope: string): Promise<number> {
    for (const key of [...this.l1.keys()]) if (key.startsWith(`${cacheScope}/`)) this.l1.delete(key);
    return (await this.opts.l2?.eraseScope?.(cacheScope)) ?? 0;
  }

  stats(): BatchingStats {
    return { ...this.counters };
  }

  /** Sends what is queued now and waits for every batch and cache write in flight (before shutdown, in tests). */
  async drain(): Promise<void> {
    this.flush('query');
    this.flush('document');
    while (this.inflight.size > 0 || this.background.size > 0) {
      await Promise.allSettled([...this.inflight.values(), ...this.background]);
    }
  }

  private one(text: string, kind: EmbedKind, scope: string | undefined): Promise<number[]> {
    this.counters.texts++;
    // Providers refuse blank input: sent alone, its error reaches only its caller instead of failing a batch.
    if (text.trim() === '') return this.inner.embed([text], kind).then((v) => v[0]!);
    const key = embeddingCacheKey(this.id, kind, text, scope);
    const cached = this.l1.get(key);
    if (cached) {
      this.counters.l1Hits++;
      return Promise.resolve(cached);
    }
    const running = this.inflight.get(key);
    if (running) {
      this.counters.joined++;
      return running;
    }
    const loading = this.load(key, text, kind).finally(() => this.inflight.delete(key));
    this.inflight.set(key, loading);
    return loading;
  }

  private async load(key: string, text: string, kind: EmbedKind): Promise<number[]> {
    if (this.opts.l2) {
      const hit = await this.opts.l2.get(key).catch((err: unknown) => void this.opts.onCacheError?.(err));
      if (hit && hit.length === this.dimensions) {
        this.counters.l2Hits++;
        this.l1.set(key, hit);
        return hit;
      }
    }
    return new Promise((resolve, reject) => {
      const queue = this.queues[kind];
      queue.push({ key, text, resolve, reject });
      if (queue.length >= this.maxBatch) this.flush(kind);
      else this.timers[kind] ??= this.scheduleFlush(kind);
    });
  }

  private scheduleFlush(kind: EmbedKind): () => void {
    if (kind === 'query') {
      const immediate = setImmediate(() => this.flush(kind));
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.flush(kind), this.maxWaitMs);
    return () => clearTimeout(timer);
  }

  private flush(kind: EmbedKind): void {
    this.timers[kind]?.();
    delete this.timers[kind];
    const queue = this.queues[kind];
    while (queue.length > 0) void this.send(queue.splice(0, this.maxBatch), kind);
  }

  private async send(batch: Pending[], kind: EmbedKind): Promise<void> {
    this.counters.batches++;
    this.counters.embedded += batch.length;
    try {
      const vectors = await this.inner.embed(
        batch.map((p) => p.text),
        kind,
      );
      if (vectors.length !== batch.length) {
        throw new Error(`${this.id}: asked for ${batch.length} vectors, got ${vectors.length}`);
      }
      batch.forEach((p, i) => {
        const v = vectors[i]!;
        this.l1.set(p.key, v);
        if (this.opts.l2) this.remember(p.key, v);
        p.resolve(v);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  private remember(key: string, vector: number[]): void {
    const write = this.opts
      .l2!.set(key, vector, this.opts.l2TtlSeconds ?? 30 * 24 * 3600)
      .catch((err: unknown) => this.opts.onCacheError?.(err))
      .finally(() => this.background.delete(write));
    this.background.add(write);
  }
}
