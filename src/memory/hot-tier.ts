/**
 * The hot tier: each conversation's newest messages in Redis, written through when a turn is stored and read
 * before PostgreSQL. It is a cache, never the source of truth: any gap, staleness or error is a miss, and the
 * caller reads PostgreSQL instead.
 */
import type { Redis } from 'ioredis';
import type { StoredMessage } from '../storage/conversations';

export interface HotTier {
  readonly kind: 'redis' | 'none';
  /**
   * Messages with `fromSeq <= seq <= lastSeq`, oldest first, or undefined when the tier cannot vouch for all of
   * them (a miss).
   */
  range(
    tenantId: string,
    conversationId: string,
    fromSeq: number,
    lastSeq: number,
  ): Promise<StoredMessage[] | undefined>;
  /**
   * Every message the tier holds with `seq >= fromSeq`, oldest first, gaps and all: for a reader that does not know
   * the newest sequence number yet (`contiguousRange` then cuts and checks it).
   */
  since(tenantId: string, conversationId: string, fromSeq: number): Promise<StoredMessage[]>;
  append(tenantId: string, conversationId: string, messages: StoredMessage[]): Promise<void>;
  /** Forgets the conversation; returns how many keys were removed. */
  drop(tenantId: string, conversationId: string): Promise<number>;
}

export const NO_HOT_TIER: HotTier = {
  kind: 'none',
  range: async () => undefined,
  since: async () => [],
  append: async () => undefined,
  drop: async () => 0,
};

interface Encoded {
  m: string;
  s: number;
  r: 'user' | 'assistant';
  c: string;
  t: string;
  /** sentAt, only when the message has one. */
  a?: string;
  i: string | null;
  o: string | null;
  d: boolean;
}

const encode = (m: StoredMessage): string =>
  JSON.stringify({
    m: m.messageId,
    s: m.seq,
    r: m.role,
    c: m.content,
    t: m.createdAt.toISOString(),
    ...(m.sentAt ? { a: m.sentAt.toISOString() } : {}),
    i: m.inReplyTo,
    o: m.model,
    d: m.degraded,
  } satisfies Encoded);
const decode = (raw: string): StoredMessage => {
  const e = JSON.parse(raw) as Encoded;
  return {
    messageId: e.m,
    seq: e.s,
    role: e.r,
    content: e.c,
    createdAt: new Date(e.t),
    sentAt: e.a ? new Date(e.a) : null,
    inReplyTo: e.i,
    model: e.o,
    degraded: e.d,
  };
};

/**
 * The messages `fromSeq..lastSeq` out of what a tier holds (oldest first), or undefined unless every sequence number
 * of that range is there, each once.
 */
export function contiguousRange(held: StoredMessage[], fromSeq: number, lastSeq: number): StoredMessage[] | undefined {
  if (lastSeq < fromSeq) return [];
  const messages = held.filter((m) => m.seq >= fromSeq && m.seq <= lastSeq);
  if (messages.length !== lastSeq - fromSeq + 1) return undefined;
  if (messages.some((m, i) => m.seq !== fromSeq + i)) return undefined;
  return messages;
}

export class RedisHotTier implements HotTier {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly opts: { ttlSeconds: number; keep: number },
  ) {}

  private key(tenantId: string, conversationId: string) {
    return `memoir:hot:${tenantId}:${conversationId}`;
  }

  async range(tenantId: string, conversationId: string, fromSeq: number, lastSeq: number) {
    if (lastSeq < fromSeq) return [];
    const raw = await this.redis.zrangebyscore(this.key(tenantId, conversationId), fromSeq, lastSeq);
    // Every sequence number in the range, each once: anything less is a miss.
    return contiguousRange(raw.map(decode), fromSeq, lastSeq);
  }

  async since(tenantId: string, conversationId: string, fromSeq: number) {
    const raw = await this.redis.zrangebyscore(this.key(tenantId, conversationId), fromSeq, '+inf');
    return raw.map(decode);
  }

  async append(tenantId: string, conversationId: string, messages: StoredMessage[]) {
    if (messages.length === 0) return;
    const key = this.key(tenantId, conversationId);
    const args = messages.flatMap((m) => [m.seq, encode(m)] as const);
    await this.redis
      .multi()
      .zremrangebyscore(key, messages[0]!.seq, messages.at(-1)!.seq)
      .zadd(key, ...args)
      .zremrangebyrank(key, 0, -this.opts.keep - 1)
      .expire(key, this.opts.ttlSeconds)
      .exec();
  }

  async drop(tenantId: string, conversationId: string) {
    return this.redis.del(this.key(tenantId, conversationId));
  }
}
