/**
 * The stream bus on Redis Streams, shared by every worker and API process. A stream (rather than pub/sub) keeps
 * a turn's events for a while, which is what lets a reconnecting client resume from `Last-Event-ID`.
 */
import type { Redis } from 'ioredis';
import { channelKey, RETAIN_MS, type ReceivedEvent, type StreamBus, type StreamEvent, type TurnChannel } from './bus';

const MAX_EVENTS = 20_000;
const BLOCK_MS = 5_000;

/**
 * An attempt's start, decided and appended in Redis: KEYS = the turn's stream, its text marker and its listener
 * marker; ARGV = the event as a first attempt, the event as a restart, the stream's length cap, its retention in ms.
 * Returns 0, appending nothing, when nobody marked the turn as listened to.
 */
const START_ATTEMPT = `
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
local event = ARGV[1]
if redis.call('EXISTS', KEYS[2]) == 1 then event = ARGV[2] end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', event)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

export class RedisStreamBus implements StreamBus {
  readonly kind = 'redis';

  constructor(private readonly redis: Redis) {}

  private key(c: TurnChannel) {
    return `memoir:stream:${channelKey(c)}`;
  }

  async publish(c: TurnChannel, event: StreamEvent): Promise<void> {
    const key = this.key(c);
    const tx = this.redis
      .multi()
      .xadd(key, 'MAXLEN', '~', String(MAX_EVENTS), '*', 'e', JSON.stringify(event))
      .pexpire(key, RETAIN_MS);
    if (event.type === 'delta') tx.set(`${key}:text`, '1', 'PX', RETAIN_MS);
    await tx.exec();
  }

  async listen(c: TurnChannel): Promise<void> {
    await this.redis.set(`${this.key(c)}:listen`, '1', 'PX', RETAIN_MS);
  }

  async startAttempt(c: TurnChannel, attempt: number, model: string): Promise<boolean> {
    const key = this.key(c);
    const event = (restart: boolean) => JSON.stringify({ type: 'attempt', attempt, model, restart });
    const keys = [key, `${key}:text`, `${key}:listen`];
    const listened = await this.redis.eval(START_ATTEMPT, 3, ...keys, event(false), event(true), MAX_EVENTS, RETAIN_MS);
    return listened === 1;
  }

  async dropConversation(tenantId: string, conversationId: string): Promise<number> {
    // Ids are [A-Za-z0-9._-]: nothing in them is a glob character. Each turn has its stream and its `:text` and
    // `:listen` markers.
    const match = `${this.key({ tenantId, conversationId, messageId: '' })}*`;
    let turns = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) {
        await this.redis.del(...keys);
        turns += keys.filter((k) => !k.endsWith(':text') && !k.endsWith(':listen')).length;
      }
    } while (cursor !== '0');
    return turns;
  }

  async hasText(c: TurnChannel): Promise<boolean> {
    return (await this.redis.exists(`${this.key(c)}:text`)) === 1;
  }

  async subscribe(
    c: TurnChannel,
    afterId: string | undefined,
    onEvent: (e: ReceivedEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    // A blocking read holds its connection: each subscriber gets its own.
    const reader = this.redis.duplicate({ enableOfflineQueue: true, commandTimeout: BLOCK_MS + 2_000 });
    // A duplicate does not inherit the listeners: its connection errors surface on the read below (which waits and
    // tries again), not as ioredis's "Unhandled error event" on stderr.
    reader.on('error', () => undefined);
    const stop = () => reader.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    let last = afterId ?? '0-0';
    try {
      while (!signal.aborted) {
        // A client still reading keeps the turn marked as listened to (a turn can wait past the marker's retention:
        // queued behind others, or paused for a tool's approval); a turn nobody marked stays unmarked.
        this.redis.pexpire(`${this.key(c)}:listen`, RETAIN_MS).catch(() => undefined);
        let res: [string, [string, string[]][]][] | null;
        try {
          res = await reader.xread('BLOCK', BLOCK_MS, 'STREAMS', this.key(c), last);
        } catch {
          // Redis is away: the final reply still arrives through the workflow; keep trying until aborted.
          if (!signal.aborted) await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            onEvent({ id, event: JSON.parse(fields[1]!) as StreamEvent });
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      reader.disconnect();
    }
  }

  async close(): Promise<void> {}
}
