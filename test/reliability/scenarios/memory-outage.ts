/**
 * Redis, Weaviate or the embeddings provider down and back, mid-conversation. Turns keep being answered (with
 * their context flagged: `hot` for Redis, `semantic` for the index and the embedder); once the dependency is back
 * the hot tier fills again and the semantic index catches up on every message, including those stored meanwhile.
 */
import fs from 'node:fs';
import type { SemanticTier } from '../../../src/memory/semantic-tier';
import { embeddingsServer } from '../../helpers/embeddings-server';
import { redisProcess, weaviateProcess } from '../../helpers/processes';
import { TurnLog, runLanes, sleep, waitUntil } from '../driver';
import { judge } from '../judge';
import { reconcile } from '../reconcile';
import { conversationIds, scenarioStack, type ScenarioStack } from '../setup';
import { Checks, type Size, type Verdict } from '../verdict';

export type Dependency = 'redis' | 'weaviate' | 'embedder';

const SIZES = {
  full: { conversations: 6, before: 3, during: 4, after: 3, minDownMs: 20_000, runMs: 8 * 60_000 },
  fast: { conversations: 3, before: 2, during: 3, after: 2, minDownMs: 0, runMs: 90_000 },
};
const RECENT = 6;

interface Outage {
  env: Record<string, string>;
  /** The context flag a turn carries while it is down. */
  flag: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

async function outageOf(dep: Dependency): Promise<Outage> {
  if (dep === 'redis') {
    const redis = await redisProcess();
    return {
      env: { REDIS_URL: redis.url },
      flag: 'hot',
      down: () => redis.proc.stop(),
      up: () => redis.proc.start(),
      close: () => redis.proc.stop(),
    };
  }
  if (dep === 'weaviate') {
    const w = await weaviateProcess();
    return {
      env: { WEAVIATE_URL: w.url, WEAVIATE_GRPC_PORT: String(w.grpcPort) },
      flag: 'semantic',
      down: () => w.proc.stop(),
      up: () => w.proc.start(),
      async close() {
        await w.proc.stop();
        fs.rmSync(w.dataDir, { recursive: true, force: true });
      },
    };
  }
  const e = await embeddingsServer();
  return {
    env: {
      MEMOIR_EMBEDDER: 'openai',
      MEMOIR_EMBEDDINGS_URL: e.url,
      MEMOIR_EMBEDDING_MODEL: e.model,
      MEMOIR_EMBEDDING_DIMENSIONS: String(e.dimensions),
    },
    flag: 'semantic',
    down: () => e.stop(),
    up: () => e.start(),
    close: () => e.stop(),
  };
}

/** Context flags of each turn, from its manifest (what the turn had to go without). */
async function flagsByMessage(s: ScenarioStack): Promise<Map<string, string[]>> {
  const rows = await s.stack.serving.services.db.query<{ message_id: string; tiers: string[] }>(
    `SELECT message_id, manifest->'degradedTiers' AS tiers FROM context_manifests WHERE tenant_id = $1`,
    [s.tenantId],
  );
  return new Map(rows.map((r) => [r.message_id, r.tiers]));
}

/** Stored messages the semantic index does not have yet. */
async function unindexed(s: ScenarioStack): Promise<number> {
  const rows = await s.stack.serving.services.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND indexed_at IS NULL',
    [s.tenantId],
  );
  return rows[0]?.n ?? 0;
}

/** Whether the hot tier again holds each conversation's newest messages, and every message is in the index. */
async function caughtUp(s: ScenarioStack, conversations: string[]) {
  const { conversations: store, memory, db } = s.stack.serving.services;
  let hotComplete = 0;
  let indexed = 0;
  let stored = 0;
  for (const c of conversations) {
    const last = await store.lastSeq(s.tenantId, c);
    if (await memory.hot.range(s.tenantId, c, Math.max(1, last - RECENT + 1), last).catch(() => undefined))
      hotComplete++;
    const ids = await db.query<{ message_id: string }>(
      'SELECT message_id FROM messages WHERE tenant_id = $1 AND conversation_id = $2',
      [s.tenantId, c],
    );
    // The index also holds facts: count the stored messages found in it, and only those.
    const inIndex = await (memory.semantic as SemanticTier).store.indexedSourceIds(s.tenantId, c);
    stored += ids.length;
    indexed += ids.filter((r) => inIndex.has(r.message_id)).length;
  }
  return { hotComplete, indexed, stored };
}

export async function memoryOutage(dep: Dependency, size: Size): Promise<Verdict> {
  const startedAt = Date.now();
  const p = SIZES[size];
  const outage = await outageOf(dep);
  const env = { ...outage.env, MEMOIR_TIER_TIMEOUT: '1500ms', MEMOIR_RECENT_MESSAGES: String(RECENT) };
  const s = await scenarioStack({ name: `${dep}-down`, env, worker: 'in-process' }).catch(async (err: unknown) => {
    await outage.close();
    throw err;
  });
  const log = new TurnLog();
  try {
    const conversations = conversationIds(dep, p.conversations);
    const deadline = Date.now() + p.runMs;
    const phase = (startIndex: number, turnsPerConversation: number) =>
      runLanes(s.sender, log, conversations, { startIndex, turnsPerConversation, deadline });
    await phase(0, p.before);
    const downAt = Date.now();
    await outage.down();
    await phase(p.before, p.during);
    // Stay down a while longer at full size: background indexing keeps failing and backing off meanwhile.
    await sleep(Math.max(0, downAt + p.minDownMs - Date.now()));
    const backlog = await unindexed(s);
    const downMs = Date.now() - downAt;
    await outage.up();
    // The tiers' Redis client retries every 2 s at most (src/memory/redis.ts): the last turns are judged once it
    // has reconnected, and how long that took is reported.
    const upAt = Date.now();
    const redis = s.stack.serving.services.memory.redis;
    if (dep === 'redis' && redis) await waitUntil(() => redis.status === 'ready', 10_000);
    const reconnectMs = Date.now() - upAt;
    await phase(p.before + p.during, p.after);

    const rec = await reconcile(s.stack.serving.services, s.tenantId, log.turns);
    // Reconciliation waited for upkeep, indexing included; give the index a little longer if it still lags.
    let after = await caughtUp(s, conversations);
    await waitUntil(async () => (after = await caughtUp(s, conversations)).indexed >= after.stored, 60_000);
    const flags = await flagsByMessage(s);
    const during = log.turns.filter((t) => t.index >= p.before && t.index < p.before + p.during);
    const flagged = during.filter((t) => flags.get(t.messageId)?.includes(outage.flag)).length;
    const lastTurns = log.turns.filter((t) => t.index === p.before + p.during + p.after - 1);
    const stillFlagged = lastTurns.filter((t) => (flags.get(t.messageId) ?? []).length > 0).length;

    const checks = new Checks();
    checks.check(rec.degraded === 0, `${rec.degraded} degraded replies (the model was up throughout)`);
    checks.check(
      flagged === during.length,
      `${flagged} of ${during.length} turns during the outage flagged '${outage.flag}'`,
    );
    checks.check(stillFlagged === 0, `${stillFlagged} last turns still flagged after the dependency came back`);
    if (dep === 'redis') checks.check(reconnectMs < 10_000, `Redis clients not reconnected ${reconnectMs} ms after`);
    checks.check(after.indexed === after.stored, `${after.indexed} of ${after.stored} messages in the semantic index`);
    // Without a backlog at the moment it came back, "the index caught up" would prove nothing.
    if (dep !== 'redis')
      checks.check(backlog > 0, 'no message was waiting for the index when the dependency came back');
    if (dep === 'redis')
      checks.check(
        after.hotComplete === conversations.length,
        `hot tier complete for ${after.hotComplete} of ${conversations.length}`,
      );
    const name = { redis: 'Redis', weaviate: 'Weaviate', embedder: 'embeddings provider' }[dep];
    return judge({
      scenario: `${name} down and back`,
      size,
      load: `${p.conversations} conversations × ${p.before + p.during + p.after} turns (${p.during} each during the outage)`,
      faults: `${name} ${dep === 'embedder' ? 'stopped' : 'killed'} for ${(downMs / 1000).toFixed(0)} s, then started again`,
      parameters: { ...env, conversations: p.conversations },
      startedAt,
      log,
      rec,
      checks,
      serverErrors: s.serverErrors(),
      metrics: {
        [`turns flagged '${outage.flag}' during the outage`]: `${flagged} of ${during.length}`,
        'last turns flagged after recovery': stillFlagged,
        ...(dep === 'redis' ? { 'ms until the tiers had reconnected to Redis': reconnectMs } : {}),
        'messages not yet indexed when it came back': backlog,
        'messages indexed after recovery': `${after.indexed} of ${after.stored}`,
        'conversations whose hot tier holds the newest messages again': `${after.hotComplete} of ${conversations.length}`,
      },
    });
  } finally {
    await s.stop();
    await outage.close();
  }
}
