/**
 * Overload: many conversations through the HTTP API at a fixed request rate above the tenant's rate limit. The
 * API sheds the excess with 429 and Retry-After — the documented back-pressure — clients wait that long and
 * re-send the same messageId, and nothing else goes wrong: no 5xx, no 504, nothing lost. Latency percentiles are
 * reported from the client side.
 */
import { TurnLog, sendUntilAnswered, sleep, turnContent, type TurnRecord } from '../driver';
import { judge, percentile } from '../judge';
import { reconcile } from '../reconcile';
import { conversationIds, scenarioStack } from '../setup';
import { Checks, type Size, type Verdict } from '../verdict';

const SIZES = {
  full: { conversations: 1000, turns: 5, ratePerSecond: 8, limitPerMinute: 420, burst: 20 },
  fast: { conversations: 40, turns: 3, ratePerSecond: 6, limitPerMinute: 300, burst: 5 },
};

export async function overload(size: Size, custom: Partial<(typeof SIZES)['full']> = {}): Promise<Verdict> {
  const startedAt = Date.now();
  const p = { ...SIZES[size], ...custom };
  const requestLatencies: number[] = [];
  const env = {
    MEMOIR_RATE_LIMIT: String(p.limitPerMinute),
    MEMOIR_RATE_BURST: String(p.burst),
    // Keep fact extraction in the picture: once per conversation, beside its last turn.
    MEMOIR_FACTS_EVERY: String(p.turns),
  };
  const s = await scenarioStack({
    name: 'overload',
    env,
    // The worker in a process of its own, as deployed: the API, the clients and the model share this one.
    worker: 'child',
    apiWaitMs: 60_000,
    onReplyLatency: (ms) => requestLatencies.push(ms),
  });
  const log = new TurnLog();
  try {
    await s.stack.offline.script([], { latencyMs: 200 });
    const conversations = conversationIds('ol', p.conversations);
    const total = p.conversations * p.turns;
    const intervalMs = 1000 / p.ratePerSecond;
    const deadline = Date.now() + total * intervalMs + 5 * 60_000;
    // Turn k goes to conversation k mod C at t0 + k / rate: a fixed rate of first sends, round-robin, so a
    // conversation's next turn is due long after its last; if that one is still running, the next waits for it.
    const chains = new Map<string, Promise<void>>();
    let late = 0;
    const t0 = Date.now();
    for (let k = 0; k < total && Date.now() < deadline; k++) {
      const due = t0 + k * intervalMs;
      if (due > Date.now()) await sleep(due - Date.now());
      const conversationId = conversations[k % p.conversations]!;
      const index = Math.floor(k / p.conversations);
      const previous = chains.get(conversationId) ?? Promise.resolve();
      const chain = previous.then(async () => {
        if (Date.now() - due > 1_000) late++;
        const turn: TurnRecord = {
          conversationId,
          messageId: `${conversationId}-m${index}`,
          index,
          firstSentAt: Date.now(),
          requests: 0,
          accepted: false,
        };
        log.turns.push(turn);
        await sendUntilAnswered(s.sender, log, turn, turnContent(conversationId, index), { deadline });
      });
      chains.set(conversationId, chain);
    }
    const offeredSeconds = (Date.now() - t0) / 1000;
    await Promise.all(chains.values());
    const drainedSeconds = (Date.now() - t0) / 1000;
    const rec = await reconcile(s.stack.serving.services, s.tenantId, log.turns, { settleTimeoutMs: 300_000 });

    const checks = new Checks();
    const other = [...log.codes].filter(([code]) => code !== '429 rate_limited');
    checks.check(other.length === 0, `answers other than 429: ${other.map(([c, n]) => `${n} × ${c}`).join(', ')}`);
    const turnLatencies = log.latencies();
    const ms = (v: number) => `${Math.round(v)}`;
    return judge({
      scenario: 'overload',
      size,
      load:
        `${p.conversations} conversations × ${p.turns} turns (${total}) through the HTTP API, ` +
        `${p.ratePerSecond} new requests/s for ${offeredSeconds.toFixed(0)} s`,
      faults: `offered rate above the tenant's limit (${p.limitPerMinute}/min, burst ${p.burst}): the excess is refused with 429`,
      parameters: { ...env, 'request rate per s': p.ratePerSecond, conversations: p.conversations, turns: p.turns },
      startedAt,
      log,
      rec,
      checks,
      serverErrors: s.serverErrors(),
      metrics: {
        'documented 429s': log.codes.get('429 rate_limited') ?? 0,
        'request latency (200s) p50 / p95 / p99 ms': `${ms(percentile(requestLatencies, 50))} / ${ms(percentile(requestLatencies, 95))} / ${ms(percentile(requestLatencies, 99))}`,
        'turn latency incl. 429 back-off p50 / p95 / p99 ms': `${ms(percentile(turnLatencies, 50))} / ${ms(percentile(turnLatencies, 95))} / ${ms(percentile(turnLatencies, 99))}`,
        'throughput, turns/s (all answered)': (total / drainedSeconds).toFixed(2),
        'turns that started over 1 s late (previous turn still running)': late,
      },
    });
  } finally {
    await s.stop();
  }
}
