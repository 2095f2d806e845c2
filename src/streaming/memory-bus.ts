/**
 * The in-process stream bus (embedded deployments, and a worker and API in one process). It does not cross
 * processes: with the worker and the API apart and no Redis, clients get the final reply without deltas.
 */
import { LRUCache } from 'lru-cache';
import { channelKey, RETAIN_MS, type ReceivedEvent, type StreamBus, type StreamEvent, type TurnChannel } from './bus';

interface Channel {
  events: ReceivedEvent[];
  next: number;
  listeners: Set<(e: ReceivedEvent) => void>;
}

export class MemoryStreamBus implements StreamBus {
  readonly kind = 'memory';
  private readonly channels = new LRUCache<string, Channel>({ max: 10_000, ttl: RETAIN_MS });

  private channel(c: TurnChannel): Channel {
    const key = channelKey(c);
    let ch = this.channels.get(key);
    if (!ch) {
      ch = { events: [], next: 1, listeners: new Set() };
      this.channels.set(key, ch);
    }
    return ch;
  }

  async publish(c: TurnChannel, event: StreamEvent): Promise<void> {
    const ch = this.channel(c);
    const received = { id: String(ch.next++), event };
    ch.events.push(received);
    for (const listener of ch.listeners) listener(received);
  }

  async dropConversation(tenantId: string, conversationId: string): Promise<number> {
    const prefix = channelKey({ tenantId, conversationId, messageId: '' });
    const keys = [...this.channels.keys()].filter((k) => k.startsWith(prefix));
    for (const k of keys) this.channels.delete(k);
    return keys.length;
  }

  /** Nothing to mark: publishing in process costs next to nothing, so every turn is published. */
  async listen(): Promise<void> {}

  async startAttempt(c: TurnChannel, attempt: number, model: string): Promise<boolean> {
    await this.publish(c, { type: 'attempt', attempt, model, restart: await this.hasText(c) });
    return true;
  }

  async hasText(c: TurnChannel): Promise<boolean> {
    return this.channel(c).events.some((e) => e.event.type === 'delta');
  }

  async subscribe(
    c: TurnChannel,
    afterId: string | undefined,
    onEvent: (e: ReceivedEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const ch = this.channel(c);
    const after = afterId ? Number(afterId) : 0;
    for (const e of ch.events) if (Number(e.id) > after) onEvent(e);
    ch.listeners.add(onEvent);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    ch.listeners.delete(onEvent);
  }

  async close(): Promise<void> {
    this.channels.clear();
  }
}
