/**
 * Where a turn's time goes inside Memoir, on the test services (scripts/services.sh): an in-process worker, API and
 * client (test/helpers/stack.ts), N sequential turns on one conversation, and per turn
 *   - the PostgreSQL statements and Redis commands each step sent (counted by wrapping `pg` and `ioredis` here),
 *   - their summed time, and the phases read from the workflow history (bench/lib/phases.ts),
 *   - the commits per turn: write commits by step (a writing statement outside a transaction, or the COMMIT of a
 *     transaction that wrote; on a server with fsync on each waits for a WAL flush unless it commits asynchronously)
 *     and all commits of the database (`xact_commit`, read-only ones included; statistics reach it ~1 s late).
 * A profiling aid, not a benchmark (bench/ owns the figures); compare runs taken in the same minute.
 *
 *   npx tsx scripts/profile-turn.ts [--turns 40] [--via client|http] [--concurrency 1] [--sql] [--events]
 *
 * `--events` prints each turn's history events from the update's acceptance to its completion with the median gap
 * before each (server clock): where a workflow task waits for dispatch (scheduled → started) and where the worker
 * holds it (started → completed).
 *   node --cpu-prof --import tsx scripts/profile-turn.ts --concurrency 16 --turns 200
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { conversationPhases, type TurnPhases } from '../bench/lib/phases';
import { startStack, uniqueId } from '../test/helpers/stack';
import { WORKFLOW_BUNDLE_PATH } from '../test/helpers/services';
import { writePrebuiltBundle } from '../src/temporal/bundle';
import { isBundleFresh } from '../src/temporal/bundle-freshness';
import { historyAfterTurns } from '../src/replay/history';
import { conversationWorkflowId } from '../workflows/contract';

const { values: args } = parseArgs({
  options: {
    turns: { type: 'string', default: '40' },
    via: { type: 'string', default: 'client' },
    concurrency: { type: 'string', default: '1' },
    sql: { type: 'boolean', default: false },
    events: { type: 'boolean', default: false },
  },
});
const EventType = temporal.api.enums.v1.EventType;
const TURNS = Number(args.turns);
const WARMUP = 3;
const CONCURRENCY = Number(args.concurrency);

/** Who sent a statement: the activity running it, or the client side (API, MemoirClient). */
function caller(): string {
  try {
    return Context.current().info.activityType;
  } catch {
    return 'client';
  }
}

type Tally = Map<string, { n: number; ms: number }>;
let tally: Tally = new Map();
const bump = (key: string, ms: number) => {
  const t = tally.get(key) ?? { n: 0, ms: 0 };
  t.n++;
  t.ms += ms;
  tally.set(key, t);
};
const shortSql = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 90);

/** Clients inside BEGIN … COMMIT, and whether their transaction wrote. */
const inTransaction = new WeakMap<object, { wrote: boolean }>();
const WRITES = /\b(INSERT|UPDATE|DELETE)\b/i;
/** Tallies `commit <step>` once per commit that writes (a no-op upsert is counted too: an upper bound). */
function countWriteCommit(client: object, who: string, sql: string): void {
  const head = sql.trim().slice(0, 8).toUpperCase();
  const tx = inTransaction.get(client);
  if (head.startsWith('BEGIN')) inTransaction.set(client, { wrote: false });
  else if (head.startsWith('COMMIT')) {
    inTransaction.delete(client);
    if (tx?.wrote) bump(`commit ${who}`, 0);
  } else if (head.startsWith('ROLLBACK')) inTransaction.delete(client);
  else if (WRITES.test(sql)) {
    if (tx) tx.wrote = true;
    // A statement that turns synchronous_commit off for its transaction (ASYNC_COMMIT) does not wait for a flush.
    else bump(/synchronous_commit/.test(sql) ? `commit (async) ${who}` : `commit ${who}`, 0);
  }
}

// Every statement of every pool client goes through Client.prototype.query.
// eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply() below
const pgQuery = pg.Client.prototype.query as (this: pg.Client, ...a: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
  const who = caller();
  const text = typeof a[0] === 'string' ? a[0] : ((a[0] as { text?: string })?.text ?? '?');
  const started = performance.now();
  countWriteCommit(this, who, text);
  const done = () => {
    const ms = performance.now() - started;
    bump(`pg ${who}`, ms);
    if (args.sql) bump(`sql ${who}: ${shortSql(text)}`, ms);
  };
  // pg.Pool#query passes a callback; a checked-out client's query returns a promise.
  const last = a.length - 1;
  if (typeof a[last] === 'function') {
    const cb = a[last] as (...r: unknown[]) => void;
    a[last] = (...r: unknown[]) => (done(), cb(...r));
    return pgQuery.apply(this, a);
  }
  const out = pgQuery.apply(this, a);
  if (out && typeof (out as Promise<unknown>).then === 'function') (out as Promise<unknown>).then(done, done);
  return out;
} as never;

// eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply() below
const redisSend = Redis.prototype.sendCommand as (this: Redis, ...a: unknown[]) => unknown;
Redis.prototype.sendCommand = function (this: Redis, ...a: unknown[]) {
  const cmd = a[0] as { name: string; promise?: Promise<unknown> };
  // Blocking reads of stream subscribers are not turn work.
  if (cmd.name !== 'xread' && cmd.name !== 'info') {
    const who = caller();
    const started = performance.now();
    const done = () => bump(`redis ${who}${args.sql ? ` ${cmd.name}` : ''}`, performance.now() - started);
    cmd.promise?.then(done, done);
  }
  return redisSend.apply(this, a);
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

async function main(): Promise<void> {
  // The stack's worker loads the prebuilt bundle (as test/global-setup.ts makes sure of).
  if (!isBundleFresh(WORKFLOW_BUNDLE_PATH)) await writePrebuiltBundle('plain');
  const stack = await startStack({ env: { MEMOIR_LOG_LEVEL: 'warn' } });
  try {
    const services = stack.serving.services;
    const tenant = stack.tenants.acme;
    const conversations = Array.from({ length: CONCURRENCY }, () => uniqueId('prof'));
    const send = async (conversationId: string, i: number): Promise<{ ms: number; messageId: string }> => {
      const messageId = `m${i}-${uniqueId('x')}`;
      const content = `Turn ${i}: I moved to Lisbon in ${2000 + i} and I like tea with lemon number ${i}.`;
      const started = performance.now();
      if (args.via === 'http') {
        const res = await stack.http('POST', `/v1/conversations/${conversationId}/messages`, { messageId, content });
        if (res.status !== 200) throw new Error(`turn failed: ${res.status} ${JSON.stringify(res.body)}`);
      } else {
        await services.memoir.sendMessage(tenant.id, conversationId, { messageId, content });
      }
      return { ms: performance.now() - started, messageId };
    };
    for (const c of conversations) for (let i = 0; i < WARMUP; i++) await send(c, i);
    const perTurn = Math.ceil(TURNS / CONCURRENCY);
    const rtts: number[] = [];
    const ids = new Map<string, Set<string>>(conversations.map((c) => [c, new Set()]));
    tally = new Map();
    const stats = new pg.Client({ connectionString: stack.databaseUrl });
    await stats.connect();
    const commits = async () => {
      const r = await stats.query<{ commits: string }>(
        'SELECT xact_commit::text AS commits FROM pg_stat_database WHERE datname = current_database()',
      );
      return { commits: Number(r.rows[0]!.commits) };
    };
    const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500)); // statistics flush at most every 1 s
    await settle();
    const before = await commits();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await Promise.all(
      conversations.map(async (c) => {
        for (let i = WARMUP; i < WARMUP + perTurn; i++) {
          const t = await send(c, i);
          rtts.push(t.ms);
          ids.get(c)!.add(t.messageId);
        }
      }),
    );
    const wall = performance.now() - wall0;
    const cpu = process.cpuUsage(cpu0);
    const measured = tally;
    tally = new Map();
    const n = rtts.length;
    await settle();
    const after = await commits();
    // The assembler's own spans (each tier's [start, end] in ms from the start of assembly), from the manifests.
    const spans = new Map<string, number[]>();
    const manifests = await stats.query<{ timings: Record<string, [number, number]> }>(
      `SELECT manifest->'timings' AS timings FROM context_manifests ORDER BY created_at DESC LIMIT $1`,
      [n],
    );
    for (const { timings } of manifests.rows)
      for (const [tier, [from, to]] of Object.entries(timings ?? {})) {
        spans.set(`${tier} start`, [...(spans.get(`${tier} start`) ?? []), from]);
        spans.set(`${tier} end`, [...(spans.get(`${tier} end`) ?? []), to]);
      }
    await stats.end();
    console.log(`\n${n} turns via ${args.via}, concurrency ${CONCURRENCY}`);
    console.log(
      `round trip p50 ${median(rtts).toFixed(1)} ms, p95 ${pct(rtts, 0.95).toFixed(1)}, p99 ${pct(rtts, 0.99).toFixed(1)}; ` +
        `${((n / wall) * 1000).toFixed(1)} turns/s; CPU of this process ${((cpu.user + cpu.system) / 1000 / n).toFixed(1)} ms/turn`,
    );
    console.log(
      `all commits per turn ${((after.commits - before.commits) / n).toFixed(2)} (read-only, upkeep and API included)`,
    );
    console.log('\nassembly spans, ms from its start (median):');
    for (const [k, v] of [...spans].sort((a, b) => a[0].localeCompare(b[0])))
      console.log(`  ${k.padEnd(28)} ${median(v).toFixed(1)}`);
    console.log('\nround trips per turn (count, summed ms per turn):');
    for (const [k, v] of [...measured].sort((a, b) => a[0].localeCompare(b[0])))
      console.log(
        `  ${k.padEnd(args.sql ? 110 : 28)} ${(v.n / n).toFixed(2).padStart(6)}  ${(v.ms / n).toFixed(2).padStart(7)}`,
      );

    const phases: TurnPhases[] = [];
    for (const c of conversations) {
      const found = await conversationPhases(
        services.temporal.client,
        conversationWorkflowId(tenant.id, c),
        ids.get(c)!,
      );
      phases.push(...found.values());
    }
    if (args.events) {
      // The run's last upkeep first, so the counts below hold all of it.
      for (let i = 0; i < 300 && (await services.memoir.getState(tenant.id, conversations[0]!)).upkeepRunning; i++)
        await new Promise((r) => setTimeout(r, 100));
      await printEventGaps(services.temporal.client, conversationWorkflowId(tenant.id, conversations[0]!));
    }
    if (phases.length > 0) {
      const keys = [
        'contextMs',
        'modelActivityMs',
        'persistMs',
        'activityDispatchMs',
        'workflowTasksMs',
        'spanMs',
      ] as const;
      console.log(`\nphases from history (median of ${phases.length} turns, ms):`);
      for (const k of keys) console.log(`  ${k.padEnd(20)} ${median(phases.map((p) => p[k])).toFixed(1)}`);
    }
  } finally {
    await stack.stop();
  }
}

/** The turns of the conversation's current run, event by event: the median gap before each (same sequence only). */
async function printEventGaps(client: Client, workflowId: string): Promise<void> {
  type Event = temporal.api.history.v1.IHistoryEvent;
  const events: Event[] = (await historyAfterTurns(client.workflow.getHandle(workflowId))).events ?? [];
  const at = (e: Event) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const name = (e: Event) => {
    const type = EventType[Number(e.eventType)] ?? String(e.eventType);
    const activity =
      e.activityTaskScheduledEventAttributes?.activityType?.name ?? e.markerRecordedEventAttributes?.markerName;
    return activity ? `${type} (${activity})` : type;
  };
  const turns = new Map<string, number[][]>();
  let turn: { names: string[]; gaps: number[]; last: number; wftStart: number } | undefined;
  let wftScheduledAt = 0;
  for (const e of events) {
    const type = e.eventType;
    if (type === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED && !turn) wftScheduledAt = at(e);
    if (type === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
      turn = { names: [], gaps: [], last: wftScheduledAt, wftStart: wftScheduledAt };
    if (!turn) continue;
    turn.names.push(name(e));
    turn.gaps.push(at(e) - turn.last);
    turn.last = at(e);
    if (type === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) {
      const key = turn.names.join('|');
      turns.set(key, [...(turns.get(key) ?? []), turn.gaps]);
      turn = undefined;
    }
  }
  // The whole run, upkeep between the turns included.
  const count = (type: temporal.api.enums.v1.EventType) => events.filter((e) => e.eventType === type).length;
  const answered = count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
  const perTurn = (n: number) => (n / Math.max(1, answered)).toFixed(2);
  console.log(
    `\nthe run's history: ${events.length} events over ${answered} turns, per turn ${perTurn(events.length)} events, ` +
      `${perTurn(count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED))} workflow tasks, ` +
      `${perTurn(count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED))} activities`,
  );
  const activities = new Map<string, number>();
  for (const e of events) {
    const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) activities.set(activity, (activities.get(activity) ?? 0) + 1);
  }
  console.log(`  activities: ${[...activities].map(([a, n]) => `${a} ${n}`).join(', ')}`);
  for (const [key, all] of [...turns].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`\n${all.length} turns with this event sequence (median ms since the previous event):`);
    key.split('|').forEach((n, i) =>
      console.log(
        `  ${median(all.map((g) => g[i]!))
          .toFixed(2)
          .padStart(7)}  ${n}`,
      ),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
