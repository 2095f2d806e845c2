/**
 * The `/v1` routes, registered as one encapsulated Fastify plugin whose `onRequest` hook authenticates and rate-limits.
 * The hook belongs to the routes, not to a URL prefix: whatever spelling of a path the router matches to a `/v1`
 * route (`/%761/...`, `/v%31/...`), the request went through it. Every path is scoped to the tenant of the caller's
 * API key: another tenant's conversation is simply not found.
 */
import { newMessageId } from '../client/message-id';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { MemoirError } from '../client/errors';
import { isValidId } from '../../workflows/contract';
import type { MemoirClient } from '../client/memoir-client';
import type { Metrics } from '../metrics';
import type { Eraser } from '../security/erasure';
import type { RateLimiter } from '../security/rate-limit';
import type { StreamBus } from '../streaming/bus';
import { bearerKey, type ApiKeyResolver } from './auth';
import { streamReply, wantsStream } from './sse';
import { parse } from './parse';
import { toolCallRoutes } from './tool-call-routes';
import {
  conversationParams,
  createConversationBody,
  listMessagesQuery,
  messageParams,
  previewContextBody,
  sendMessageBody,
  sendMessageQuery,
} from './schemas';

export interface V1Options {
  memoir: MemoirClient;
  keys: ApiKeyResolver;
  rateLimiter: RateLimiter;
  eraser: Eraser;
  streams: StreamBus;
  metrics: Metrics;
  /** Longest wait for a synchronous reply. */
  replyWaitMs: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenantId: string;
  }
}

const unauthorized = () =>
  new MemoirError('unauthorized', 401, 'a valid API key is required (Authorization: Bearer <key>)');

/** Sets `req.tenantId` from the API key, or refuses: 401 without a key that maps to a valid tenant, 429 past the limit. */
function authenticate(opts: V1Options) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const key = bearerKey(req.headers.authorization);
    const tenantId = key ? await opts.keys.resolve(key) : undefined;
    if (tenantId === undefined) throw unauthorized();
    if (!isValidId(tenantId)) {
      req.log.error({ tenantId }, 'an API key maps to an invalid tenant id; refused');
      throw unauthorized();
    }
    req.tenantId = tenantId;
    const decision = await opts.rateLimiter.take(tenantId);
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      void reply.header('retry-after', String(seconds));
      throw new MemoirError('rate_limited', 429, `rate limit reached for this tenant; retry in ${seconds} s`);
    }
  };
}

/** Register with `{ prefix: '/v1' }`. */
export function v1Routes(opts: V1Options): FastifyPluginAsync {
  return async (v1: FastifyInstance) => {
    v1.decorateRequest('tenantId', '');
    v1.addHook('onRequest', authenticate(opts));

    v1.post('/conversations', async (req, reply) => {
      const body = parse(createConversationBody, req.body);
      const created = await opts.memoir.startConversation(req.tenantId, body);
      return reply.code(201).send(created);
    });

    v1.post('/conversations/:id/messages', async (req, reply) => {
      const { id } = parse(conversationParams, req.params);
      const body = parse(sendMessageBody, req.body);
      const query = parse(sendMessageQuery, req.query);
      if (query.async === 'true') {
        return reply.code(202).send(await opts.memoir.postMessage(req.tenantId, id, body));
      }
      if (wantsStream(req)) {
        const messageId = body.messageId ?? newMessageId();
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

    v1.get('/conversations/:id', async (req) => {
      const { id } = parse(conversationParams, req.params);
      return opts.memoir.getState(req.tenantId, id);
    });

    v1.get('/conversations/:id/messages', async (req) => {
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
          ...(m.sentAt ? { sentAt: m.sentAt.toISOString() } : {}),
          ...(m.role === 'assistant' ? { model: m.model, degraded: m.degraded, inReplyTo: m.inReplyTo } : {}),
        })),
      };
    });

    v1.get('/conversations/:id/messages/:messageId/context', async (req) => {
      const { id, messageId } = parse(messageParams, req.params);
      return opts.memoir.contextOf(req.tenantId, id, messageId);
    });

    v1.post('/conversations/:id/context', async (req) => {
      const { id } = parse(conversationParams, req.params);
      const body = parse(previewContextBody, req.body);
      return opts.memoir.previewContext(req.tenantId, id, body.query, body.budgetTokens, body.recall);
    });

    v1.delete('/conversations/:id', async (req, reply) => {
      const { id } = parse(conversationParams, req.params);
      const report = await opts.eraser.eraseConversation(req.tenantId, id);
      if (report.conversations === 0 && report.workflowsEnded === 0)
        throw new MemoirError('not_found', 404, 'conversation not found');
      req.log.info({ tenantId: req.tenantId, conversationId: id, ...report }, 'conversation erased');
      return reply.code(204).send();
    });

    toolCallRoutes(v1, opts);
  };
}
