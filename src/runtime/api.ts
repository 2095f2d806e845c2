/**
 * The HTTP API process part: API keys, readiness checks, listening.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { StaticApiKeys } from '../api/auth';
import { readOrCreate } from '../files';
import { ApiKeyStore, CombinedApiKeys } from '../security/api-keys';
import { MemoryRateLimiter, RedisRateLimiter } from '../security/rate-limit';
import { createApi, type ApiOptions, type RouteSummary } from '../api/server';
import type { Services } from './services';

export interface RunningApi {
  url: string;
  /** Every route the API serves. */
  routes: readonly RouteSummary[];
  close(): Promise<void>;
}

/**
 * Keys from configuration: MEMOIR_API_KEYS when set; otherwise, on the embedded stack, one key for tenant `demo`
 * created once in the data directory. Keys created with `memoir keys create` live (hashed) in the database.
 */
export function apiKeys(s: Services): { tenantId: string; key: string }[] {
  if (s.config.api.keys) return s.config.api.keys;
  if (s.config.temporal.address) return [];
  const key = readOrCreate(
    path.join(s.config.dataDir, 'demo-api-key'),
    () => `mk_demo_${randomBytes(24).toString('base64url')}`,
  );
  return [{ tenantId: 'demo', key }];
}

/** What the API of this process is built from. */
export function apiOptions(s: Services): ApiOptions {
  return {
    memoir: s.memoir,
    keys: new CombinedApiKeys(new ApiKeyStore(s.db), new StaticApiKeys(apiKeys(s))),
    rateLimiter: rateLimiter(s),
    eraser: s.eraser,
    streams: s.streams,
    log: s.log,
    replyWaitMs: s.config.api.waitMs,
    requestTimeoutMs: s.config.api.requestTimeoutMs,
    maxContentBytes: s.config.policy.maxContentBytes,
    metrics: s.metrics,
    ready: {
      database: () => s.db.query('SELECT 1'),
      temporal: () => s.temporal.connection.workflowService.getSystemInfo({}),
    },
  };
}

export async function startApi(s: Services): Promise<RunningApi> {
  // Listening before the first message, so its reply need not wait for the workflow task; if PostgreSQL refuses now,
  // the listener keeps trying in the background and replies come by update meanwhile.
  await s.turnNotices?.listen().catch((err: unknown) => s.log.warn({ err }, 'not listening for stored turns yet'));
  const app = createApi(apiOptions(s));
  const url = await app.listen({ host: s.config.api.host, port: s.config.api.port });
  return { url, routes: app.memoirRoutes, close: () => app.close() };
}

function rateLimiter(s: Services) {
  const bucket = { ratePerSecond: s.config.api.ratePerMinute / 60, burst: s.config.api.burst };
  const local = new MemoryRateLimiter(bucket);
  return s.memory.redis ? new RedisRateLimiter(s.memory.redis, bucket, local) : local;
}
