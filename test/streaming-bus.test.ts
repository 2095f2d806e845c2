/**
 * The stream buses on their own: an attempt's start is announced as a restart exactly when text of the turn was
 * published before it, in one step (on Redis, one round trip), and events come back in the order published.
 */
import { Redis } from 'ioredis';
import { channelKey, RETAIN_MS, type ReceivedEvent, type StreamBus, type StreamEvent } from '../src/streaming/bus';
import { MemoryStreamBus } from '../src/streaming/memory-bus';
import { RedisStreamBus } from '../src/streaming/redis-bus';
import { TEST_SERVICES } from './helpers/services';
import { uniqueId } from './helpers/stack';

/** Every event retained for the turn, read until `count` arrived. */
async function events(bus: StreamBus, channel: Parameters<StreamBus['publish']>[0], count: number) {
  const got: StreamEvent[] = [];
  const stop = new AbortController();
  await bus.subscribe(
    channel,
    undefined,
    (e: ReceivedEvent) => {
      got.push(e.event);
      if (got.length >= count) stop.abort();
    },
    stop.signal,
  );
  return got;
}

type OpenBus = () => { bus: StreamBus; close: () => Promise<void> };

describe.each<[string, OpenBus]>([
  [
    'Redis Streams',
    () => {
      const redis = new Redis(TEST_SERVICES.redisUrl);
      return { bus: new RedisStreamBus(redis), close: async () => redis.disconnect() };
    },
  ],
  ['in-process bus', () => ({ bus: new MemoryStreamBus(), close: async () => undefined })],
])('stream bus on %s', (_name, open) => {
  let bus: StreamBus;
  let close: () => Promise<void>;
  beforeAll(() => {
    ({ bus, close } = open());
  });
  afterAll(async () => {
    await bus.close();
    await close();
  });

  it('announces a restart only when text of the turn was published before the attempt', async () => {
    const channel = { tenantId: 't', conversationId: uniqueId('c'), messageId: 'm1' };
    await bus.listen(channel);
    await bus.startAttempt(channel, 1, 'model-a');
    await bus.startAttempt(channel, 2, 'model-a');
    await bus.publish(channel, { type: 'delta', text: 'Hel' });
    await bus.publish(channel, { type: 'delta', text: 'lo' });
    await bus.startAttempt(channel, 3, 'model-b');
    expect(await events(bus, channel, 5)).toEqual([
      { type: 'attempt', attempt: 1, model: 'model-a', restart: false },
      { type: 'attempt', attempt: 2, model: 'model-a', restart: false },
      { type: 'delta', text: 'Hel' },
      { type: 'delta', text: 'lo' },
      { type: 'attempt', attempt: 3, model: 'model-b', restart: true },
    ]);
  });

  it('says whether the turn is listened to when an attempt starts', async () => {
    const channel = { tenantId: 't', conversationId: uniqueId('c'), messageId: 'm1' };
    // Redis publishes only to a turn marked before the attempt; in process every turn is published.
    expect(await bus.startAttempt(channel, 1, 'model-a')).toBe(bus.kind === 'memory');
    await bus.listen(channel);
    expect(await bus.startAttempt(channel, 2, 'model-a')).toBe(true);
    const got = await events(bus, channel, bus.kind === 'memory' ? 2 : 1);
    expect(got.at(-1)).toEqual({ type: 'attempt', attempt: 2, model: 'model-a', restart: false });
    if (bus.kind === 'redis') expect(got).toHaveLength(1);
  });
});

it('keeps a turn marked as listened to while a client reads it, past the marker’s retention', async () => {
  const redis = new Redis(TEST_SERVICES.redisUrl);
  const bus = new RedisStreamBus(redis);
  try {
    const channel = { tenantId: 't', conversationId: uniqueId('c'), messageId: 'm1' };
    const marker = `memoir:stream:${channelKey(channel)}:listen`;
    await bus.listen(channel);
    // As if most of the retention had passed (a turn queued, or paused for a tool's approval).
    await redis.pexpire(marker, 1_000);
    const stop = new AbortController();
    const reading = bus.subscribe(channel, undefined, () => undefined, stop.signal);
    await vi.waitFor(async () => expect(await redis.pttl(marker)).toBeGreaterThan(RETAIN_MS - 60_000), {
      timeout: 5_000,
      interval: 20,
    });
    stop.abort();
    await reading;
    // A turn nobody marked is not marked by a reader.
    const unmarked = { ...channel, messageId: 'm2' };
    const stop2 = new AbortController();
    const reading2 = bus.subscribe(unmarked, undefined, () => undefined, stop2.signal);
    expect(await bus.startAttempt(unmarked, 1, 'model-a')).toBe(false);
    stop2.abort();
    await reading2;
  } finally {
    await bus.close();
    redis.disconnect();
  }
});
