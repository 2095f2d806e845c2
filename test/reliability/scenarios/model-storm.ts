/**
 * Model storms, scripted on the offline model: half of all calls overloaded (529); rate limits (429) with
 * `retry-after`; a primary that is down for minutes; responses slower than the turn deadline. Every turn must end
 * with a real or an explicitly degraded reply, and the attempts per turn stay within the configured bound — the
 * evidence that failures do not turn into a retry storm.
 */
import type { Rule } from '../../../src/offline-model/script';
import { UPKEEP_MAX_ATTEMPTS } from '../../../workflows/contract';
import { TurnLog, runLanes } from '../driver';
import { judge, percentile } from '../judge';
import { reconcile } from '../reconcile';
import { conversationIds, scenarioStack, type ScenarioStack } from '../setup';
import { Checks, type Size, type Verdict } from '../verdict';

export type Storm = 'overload-529' | 'rate-limit-429' | 'primary-down' | 'slow';

const PRIMARY = 'claude-sonnet-5-5';
const FALLBACK = 'claude-haiku-5-5';
const ATTEMPTS = 3;
const MODELS = 2;
const RETRY_AFTER_S = 2;
const DEADLINE_MS = 5_000;

const SIZES = {
  full: { conversations: 10, turns: 6, primaryDownMs: 150_000, runMs: 10 * 60_000 },
  fast: { conversations: 4, turns: 5, primaryDownMs: 20_000, runMs: 90_000 },
};

interface StormSpec {
  title: string;
  faults: string;
  rules: Rule[];
  env: Record<string, string>;
}

const SPECS: Record<Storm, (size: Size) => StormSpec> = {
  'overload-529': () => ({
    title: 'model storm: 50% overloaded (529)',
    faults: 'every model call answers 529 with probability 0.5',
    rules: [{ action: { kind: 'error', status: 529 }, probability: 0.5 }],
    env: {},
  }),
  'rate-limit-429': () => ({
    title: 'model storm: rate limited (429 + retry-after)',
    faults: `30% of model calls answer 429 with retry-after: ${RETRY_AFTER_S}`,
    rules: [{ action: { kind: 'error', status: 429, retryAfterSeconds: RETRY_AFTER_S }, probability: 0.3 }],
    env: {},
  }),
  'primary-down': (size) => ({
    title: 'model storm: primary down for minutes',
    faults: `${PRIMARY} answers 503 to every call for ${SIZES[size].primaryDownMs / 1000} s, then recovers`,
    rules: [{ action: { kind: 'error', status: 503, message: 'primary unavailable' }, model: PRIMARY }],
    env: {},
  }),
  slow: () => ({
    title: 'model storm: slower than the turn deadline',
    faults: `40% of model calls take 8 s; per-call timeout 2 s, turn deadline ${DEADLINE_MS / 1000} s`,
    rules: [{ action: { kind: 'delay', ms: 8_000 }, probability: 0.4 }],
    env: { MEMOIR_TURN_DEADLINE: `${DEADLINE_MS}ms`, MEMOIR_MODEL_TIMEOUT: '2s' },
  }),
};

interface Attempts {
  perTurn: number[];
  /** Attempts of each summary or fact activity (its calls share a run and activity id). */
  perUpkeepJob: number[];
  /** Reply calls that failed, by outcome. */
  failures: Record<string, number>;
  /** From a 429 to the start of the next attempt of the same turn and model, ms. */
  retryAfterGaps: number[];
  byModel: Record<string, number>;
}

/** Attempts per turn and per upkeep job from `llm_calls`, and how long each 429 was waited out. */
async function attempts(s: ScenarioStack): Promise<Attempts> {
  // A row is written when its call ends: `created_at` is the end, less `latency_ms` the start.
  const rows = await s.stack.serving.services.db.query<{
    call_id: string;
    message_id: string;
    purpose: string;
    model: string;
    outcome: string;
    ended_ms: number;
    started_ms: number;
  }>(
    `SELECT call_id, message_id, purpose, model, outcome,
            extract(epoch FROM created_at) * 1000 AS ended_ms,
            extract(epoch FROM created_at) * 1000 - latency_ms AS started_ms
       FROM llm_calls WHERE tenant_id = $1 ORDER BY message_id, created_at`,
    [s.tenantId],
  );
  const group = (key: (r: (typeof rows)[number]) => string, of: typeof rows) => {
    const groups = new Map<string, typeof rows>();
    for (const r of of) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
    return [...groups.values()];
  };
  const replies = rows.filter((r) => r.purpose === 'reply');
  const upkeep = rows.filter((r) => r.purpose !== 'reply');
  const out: Attempts = {
    perTurn: [],
    perUpkeepJob: group((r) => r.call_id.slice(0, r.call_id.lastIndexOf('/')), upkeep).map((calls) => calls.length),
    failures: {},
    retryAfterGaps: [],
    byModel: {},
  };
  for (const calls of group((r) => r.message_id, replies)) {
    out.perTurn.push(calls.length);
    calls.forEach((c, i) => {
      out.byModel[c.model] = (out.byModel[c.model] ?? 0) + 1;
      if (c.outcome !== 'ok') out.failures[c.outcome] = (out.failures[c.outcome] ?? 0) + 1;
      const next = calls[i + 1];
      if (c.outcome === 'ModelRateLimited' && next && next.model === c.model)
        out.retryAfterGaps.push(next.started_ms - c.ended_ms);
    });
  }
  return out;
}

export async function modelStorm(storm: Storm, size: Size): Promise<Verdict> {
  const startedAt = Date.now();
  const p = SIZES[size];
  const spec = SPECS[storm](size);
  const env = { MEMOIR_MODEL_ATTEMPTS: String(ATTEMPTS), MEMOIR_MODELS: `${PRIMARY},${FALLBACK}`, ...spec.env };
  const s = await scenarioStack({ name: storm, env, worker: 'in-process' });
  const log = new TurnLog();
  try {
    await s.stack.offline.script(spec.rules, { latencyMs: 100 });
    const conversations = conversationIds(storm.slice(0, 8), p.conversations);
    const deadline = Date.now() + p.runMs;
    let recoveredFrom = 0;
    if (storm === 'primary-down') {
      // Conversations keep talking for the whole outage, then a few turns more once the primary is back.
      const outageEnds = Date.now() + p.primaryDownMs;
      await runLanes(s.sender, log, conversations, {
        turnsPerConversation: 1_000,
        stopStartingAt: outageEnds,
        thinkMs: 500,
        deadline,
      });
      await s.stack.offline.reset();
      await s.stack.offline.script([], { latencyMs: 100 });
      recoveredFrom = Math.max(...log.turns.map((t) => t.index)) + 1;
      await runLanes(s.sender, log, conversations, { startIndex: recoveredFrom, turnsPerConversation: 2, deadline });
    } else {
      await runLanes(s.sender, log, conversations, { turnsPerConversation: p.turns, deadline });
    }
    const rec = await reconcile(s.stack.serving.services, s.tenantId, log.turns);
    const a = await attempts(s);
    const checks = new Checks();
    const bound = ATTEMPTS * MODELS;
    const max = Math.max(0, ...a.perTurn);
    checks.check(max <= bound, `a turn made ${max} reply calls (bound ${bound})`);
    const maxUpkeep = Math.max(0, ...a.perUpkeepJob);
    checks.check(
      maxUpkeep <= UPKEEP_MAX_ATTEMPTS,
      `a summary or fact job made ${maxUpkeep} calls (bound ${UPKEEP_MAX_ATTEMPTS})`,
    );
    const metrics: Record<string, string | number> = {
      'reply calls per turn: mean / max (bound)': `${(a.perTurn.reduce((x, y) => x + y, 0) / Math.max(1, a.perTurn.length)).toFixed(2)} / ${max} (${bound})`,
      'failed reply calls by outcome':
        Object.entries(a.failures)
          .map(([k, n]) => `${n} × ${k}`)
          .join(', ') || 'none',
      'summary and fact calls per job: max (bound)': `${maxUpkeep} (${UPKEEP_MAX_ATTEMPTS})`,
      'reply calls by model': Object.entries(a.byModel)
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
    };
    if (storm === 'rate-limit-429') {
      const min = Math.min(...a.retryAfterGaps);
      metrics['wait after a 429 before the next attempt: min / p50 ms'] =
        `${Math.round(min)} / ${Math.round(percentile(a.retryAfterGaps, 50))} (retry-after ${RETRY_AFTER_S} s)`;
      checks.check(a.retryAfterGaps.length > 0, 'no 429 was followed by a retry of the same model');
      checks.check(
        min >= RETRY_AFTER_S * 1000 * 0.95,
        `a retry came ${Math.round(min)} ms after a 429 (retry-after ${RETRY_AFTER_S} s)`,
      );
    }
    if (storm === 'primary-down') {
      const after = log.turns.filter((t) => t.index >= recoveredFrom);
      const byPrimary = after.filter((t) => t.reply?.model === PRIMARY).length;
      const during = log.turns.filter((t) => t.index < recoveredFrom);
      const byFallback = during.filter((t) => t.reply?.model === FALLBACK).length;
      metrics['turns during the outage answered by the fallback'] = `${byFallback} of ${during.length}`;
      metrics['turns after recovery answered by the primary'] = `${byPrimary} of ${after.length}`;
      checks.check(
        byFallback === during.length,
        `${during.length - byFallback} outage turns not answered by ${FALLBACK}`,
      );
      checks.check(
        byPrimary === after.length,
        `${after.length - byPrimary} turns after recovery not answered by ${PRIMARY}`,
      );
    }
    if (storm === 'slow') {
      const worst = percentile(log.latencies(), 100);
      checks.check(worst < DEADLINE_MS + 5_000, `a turn took ${Math.round(worst)} ms (deadline ${DEADLINE_MS} ms)`);
      // The storm must have pushed some turns past the deadline, or the deadline was not what was tested.
      checks.check(rec.degraded > 0, 'no turn reached the deadline: the storm did not test it');
    } else {
      checks.check(rec.degraded <= Math.ceil(rec.attempted * 0.1), `${rec.degraded} degraded replies is too many`);
    }
    return judge({
      scenario: spec.title,
      size,
      load:
        storm === 'primary-down'
          ? `${p.conversations} conversations talking through the outage (${log.turns.length} turns)`
          : `${p.conversations} conversations × ${p.turns} turns (${p.conversations * p.turns})`,
      faults: spec.faults,
      parameters: { ...env, 'model latency': '100ms', conversations: p.conversations },
      startedAt,
      log,
      rec,
      checks,
      serverErrors: s.serverErrors(),
      metrics,
    });
  } finally {
    await s.stop();
  }
}
