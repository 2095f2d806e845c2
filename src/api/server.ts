/**
 * HTTP API v1 (Fastify). JSON in and out; every error is `{"error":{"code","message"}}` with its HTTP status.
 * Every path is scoped to the tenant of the caller's API key: another tenant's conversation is simply not found.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { MemoirClient } from '../client/memoir-client';
import { MemoirError, toMemoirError, UNAVAILABLE_RETRY_AFTER_S } from '../client/errors';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Eraser } from '../security/erasure';
import type { RateLimiter } from '../security/rate-limit';
import { bearerKey, type ApiKeyResolver } from './auth';
import { guardJson } from './json-guard';
import { streamReply, wantsStream } from './sse';
import type { StreamBus } from '../streaming/bus';
import { API_VERSION, API_VERSION_HEADER } from '../version';
import { randomUUID } from 'node:crypto';
import {
  conversationParams,
  createConversationBody,
  listMessagesQuery,
  messageParams,
  previewContextBody,
  sendMessageBody,
  sendMessageQuery,
} from './schemas';

export interface ApiOptions {
  memoir: MemoirClient;
  keys: ApiKeyResolver;
  log: Logger;
  /** Longest wait for a synchronous reply. */
  replyWaitMs: number;
  maxContentBytes: number;
  /** Readiness checks: each resolves when its dependency answers. */
  ready: Record<string, () => Promise<unknown>>;
  metrics: Metrics;
  rateLimiter: RateLimiter;
  eraser: Eraser;
  streams: StreamBus;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenantId: string;
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new MemoirError('invalid_request', 400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
}

export function createApi(opts: ApiOptions): FastifyInstance {
  const logger: FastifyBaseLogger = opts.log.child({ component: 'api' });
  const app: FastifyInstance = Fastify({
    loggerInstance: logger,
    // JSON escaping can take a character to 6 bytes; the exact content limit is checked after parsing.
    bodyLimit: opts.maxContentBytes * 8 + 64 * 1024,
    // Ids may be 128 characters; let the schema, not the router, refuse longer ones (400, not 414).
    routerOptions: { maxParamLength: 512 },
  });
  app.decorateRequest('tenantId', '');
  guardJson(app);
  // First hook, so every answer (errors and 404s included) names the API version that gave it.
  app.addHook('onRequest', async (_req, reply) => {
    void reply.header(API_VERSION_HEADER, API_VERSION);
  });

  app.setErrorHandler((thrown, req, reply) => {
    const err = toMemoirError(thrown);
    if (err instanceof MemoirError) {
      if (err.code === 'unavailable') req.log.warn({ err: thrown, url: req.url }, 'a dependency is unreachable');
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

  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    if (!req.url.startsWith('/v1/')) return;
    const key = bearerKey(req.headers.authorization);
    const tenantId = key ? await opts.keys.resolve(key) : undefined;
    if (!tenantId)
      throw new MemoirError('unauthorized', 401, 'a valid API key is required (Authorization: Bearer <key>)');
    req.tenantId = tenantId;
    const decision = await opts.rateLimiter.take(tenantId);
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      void reply.header('retry-after', String(seconds));
      throw new MemoirError('rate_limited', 429, `rate limit reached for this tenant; retry in ${seconds} s`);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    opts.metrics.httpRequests.inc({ route, method: req.method, status: `${Math.floor(reply.statusCode / 100)}xx` });
  });

  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()),
  );
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const checks = await Promise.all(
      Object.entries(opts.ready).map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, `unavailable: ${err instanceof Error ? err.message : String(err)}`] as const;
        }
      }),
    );
    const ok = checks.every(([, status]) => status === 'ok');
    return reply.code(ok ? 200 : 503).send({ ok, checks: Object.fromEntries(checks) });
  });

  app.post('/v1/conversations', async (req, reply) => {
    const body = parse(createConversationBody, req.body);
    const created = await opts.memoir.startConversation(req.tenantId, body);
    return reply.code(201).send(created);
  });

  app.post('/v1/conversations/:id/messages', async (req, reply) => {
    const { id } = parse(conversationParams, req.params);
    const body = parse(sendMessageBody, req.body);
    const query = parse(sendMessageQuery, req.query);
    if (query.async === 'true') {
      return reply.code(202).send(await opts.memoir.postMessage(req.tenantId, id, body));
    }
    if (wantsStream(req)) {
      const messageId = body.messageId ?? randomUUID();
      return streamReply(
        req,
        reply,
        { memoir: opts.memoir, streams: opts.streams, waitMs: opts.replyWaitMs },
        { tenantId: req.tenantId, conversationId: id },
        { ...body, messageId },
      );
    }
    const stopTimer = opts.metrics.turnDuration.startTimer({ phase: 'total' });
    const result = await opts.memoir.sendMessage(req.tenantId, id, body, { waitMs: opts.replyWaitMs });
    stopTimer();
    return { messageId: result.messageId, reply: result.reply, usage: result.usage };
  });

  app.get('/v1/conversations/:id', async (req) => {
    const { id } = parse(conversationParams, req.params);
    return opts.memoir.getState(req.tenantId, id);
  });

  app.get('/v1/conversations/:id/messages', async (req) => {
    const { id } = parse(conversationParams, req.params);
    const page = parse(listMessagesQuery, req.query);
    const messages = await opts.memoir.messages(req.tenantId, id, page);
    return {
      messages: messages.map((m) => ({
        messageId: m.messageId,
        seq: m.seq,
        role: m.role,
        content: m.content,
        createdAt: m.createdAt.toISOString(),
        ...(m.role === 'assistant' ? { model: m.model, degraded: m.degraded, inReplyTo: m.inReplyTo } : {}),
      })),
    };
  });

  app.get('/v1/conversations/:id/messages/:messageId/context', async (req) => {
    const { id, messageId } = parse(messageParams, req.params);
    return opts.memoir.contextOf(req.tenantId, id, messageId);
  });

  app.post('/v1/conversations/:id/context', async (req) => {
    const { id } = parse(conversationParams, req.params);
    const body = parse(previewContextBody, req.body);
    return opts.memoir.previewContext(req.tenantId, id, body.query, body.budgetTokens, body.recall);
  });

  app.delete('/v1/conversations/:id', async (req, reply) => {
    const { id } = parse(conversationParams, req.params);
    const report = await opts.eraser.eraseConversation(req.tenantId, id);
    if (report.conversations === 0 && report.workflowsEnded === 0)
      throw new MemoirError('not_found', 404, 'conversation not found');
    req.log.info({ tenantId: req.tenantId, conversationId: id, ...report }, 'conversation erased');
    return reply.code(204).send();
  });

  return app;
}
