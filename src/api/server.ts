/**
 * HTTP API (Fastify). JSON in and out; every error is `{"error":{"code","message"}}` with its HTTP status.
 * Health, readiness and metrics are open; everything under `/v1` needs an API key (see `./v1`).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { MemoirError, toMemoirError, UNAVAILABLE_RETRY_AFTER_S } from '../client/errors';
import type { Logger } from '../log';
import { accessLog, timeoutOptions } from './http-server';
import { guardJson } from './json-guard';
import { v1Routes, type V1Options } from './v1';
import { API_VERSION, API_VERSION_HEADER } from '../version';

export interface ApiOptions extends V1Options {
  log: Logger;
  /** Longest time to receive a request (headers and body). */
  requestTimeoutMs: number;
  maxContentBytes: number;
  /** Readiness checks: each resolves when its dependency answers. */
  ready: Record<string, () => Promise<unknown>>;
}

/** A route as registered, for checks that must cover every route. */
export interface RouteSummary {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the API, filled in as routes are registered (complete once the app is ready). */
    memoirRoutes: RouteSummary[];
  }
}

export function createApi(opts: ApiOptions): FastifyInstance {
  const logger: FastifyBaseLogger = opts.log.child({ component: 'api' });
  const app: FastifyInstance = Fastify({
    loggerInstance: logger,
    logController: accessLog(),
    // A synchronous message request is silent while it waits for its reply: the idle bound must exceed that wait.
    ...timeoutOptions({
      requestTimeoutMs: opts.requestTimeoutMs,
      idleTimeoutMs: opts.replyWaitMs + opts.requestTimeoutMs,
    }),
    // JSON escaping can take a character to 6 bytes; the exact content limit is checked after parsing.
    bodyLimit: opts.maxContentBytes * 8 + 64 * 1024,
    // Ids may be 128 characters; let the schema, not the router, refuse longer ones (400, not 414).
    routerOptions: { maxParamLength: 512 },
  });
  const routes: RouteSummary[] = [];
  app.decorate('memoirRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  guardJson(app);
  // First hook, so every answer (errors and 404s included) names the API version that gave it.
  app.addHook('onRequest', async (_req, reply) => {
    void reply.header(API_VERSION_HEADER, API_VERSION);
  });

  app.setErrorHandler((thrown, req, reply) => {
    const err = toMemoirError(thrown);
    if (err instanceof MemoirError) {
      if (err.code === 'unavailable') req.log.warn({ err: thrown, url: req.url }, 'a dependency is unreachable');
      if (err.status >= 500 && err.status !== 503) req.log.error({ err, url: req.url }, err.message);
      if (err.status === 503) void reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_S));
      return reply.code(err.status).send({ error: { code: err.code, message: err.message, ...(err.details ?? {}) } });
    }
    const fastifyErr = err as { statusCode?: number; code?: string; message: string };
    if (fastifyErr.statusCode && fastifyErr.statusCode < 500) {
      const code = fastifyErr.statusCode === 413 ? 'payload_too_large' : 'invalid_request';
      return reply.code(fastifyErr.statusCode).send({ error: { code, message: fastifyErr.message } });
    }
    req.log.error({ err, url: req.url }, 'request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } }),
  );

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    opts.metrics.httpRequests.inc({ route, method: req.method, status: `${Math.floor(reply.statusCode / 100)}xx` });
  });

  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()),
  );
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (req, reply) => {
    const checks = await Promise.all(
      Object.entries(opts.ready).map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (err) {
          // Unauthenticated callers learn which dependency is down, never why (hosts, users, versions): that is logged.
          req.log.warn({ err, dependency: name }, 'readiness check failed');
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const ok = checks.every(([, status]) => status === 'ok');
    return reply.code(ok ? 200 : 503).send({ ok, checks: Object.fromEntries(checks) });
  });

  void app.register(v1Routes(opts), { prefix: '/v1' });
  return app;
}
