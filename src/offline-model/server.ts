/**
 * A local HTTP server that speaks the Anthropic Messages API (`POST /v1/messages`, JSON and SSE streaming,
 * `POST /v1/messages/count_tokens`), with prompt caching, API-shaped errors and scripted faults. The real
 * `@anthropic-ai/sdk` talks to it through `baseURL`; nothing in Memoir knows it is not Claude.
 *
 * Control endpoints (not part of the API): `POST /_offline/script`, `POST /_offline/reset`, `GET /_offline/requests`,
 * `POST /_offline/clock` (`{ advanceMs }`: moves the prompt cache's clock forward, so a benchmark can let cache entries
 * expire between sessions without sleeping), `POST /_offline/release` (`{ gate }`: ends the wait of requests a `hold`
 * rule stopped, so a test holds a call exactly as long as it needs to, not for a guessed time).
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { cacheMinimum, DEFAULT_CACHE_MINIMUMS } from '../model/cache-minimums';
import { DEFAULT_PRICING } from '../model/pricing';
import { PromptCache, type PromptBlock } from './prompt-cache';
import { offlineReply, offlineToolCalls, type ResponderInput } from './responder';
import { Gates } from './gates';
import { isWait, Script, scriptSchema, type Action } from './script';
import { sseEvents, type OfflineBlock } from './sse';

const cacheControl = z.object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() }).optional();
const block = z.looseObject({ type: z.string(), text: z.string().optional(), cache_control: cacheControl });
const content = z.union([z.string(), z.array(block).min(1)]);
const requestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content })).min(1),
  system: z.union([z.string(), z.array(block)]).optional(),
  tools: z.array(z.looseObject({ name: z.string(), cache_control: cacheControl })).optional(),
  stream: z.boolean().optional(),
});
type MessagesRequest = z.infer<typeof requestSchema>;

export interface OfflineModelOptions {
  /** Models it answers for; others get 404 `not_found_error`, as an unknown or retired model would. */
  models?: string[];
  cacheMinimums?: Record<string, number>;
  now?: () => number;
}

export interface RecordedRequest {
  at: string;
  model: string;
  status: number;
  stream: boolean;
  body: unknown;
  usage?: Record<string, unknown>;
}

/** Tokens as the offline model counts them: a token per 4 characters, plus 3 per message for its framing. */
export const offlineTokens = (text: string): number => Math.ceil(text.length / 4);
const MESSAGE_OVERHEAD_TOKENS = 3;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export function createOfflineModel(options: OfflineModelOptions = {}): FastifyInstance & { script: Script } {
  const models = new Set(options.models ?? Object.keys(DEFAULT_PRICING));
  const minimums = options.cacheMinimums ?? DEFAULT_CACHE_MINIMUMS;
  // The cache's clock: the given one (or the wall clock) plus whatever /_offline/clock has advanced it by.
  const clock = options.now ?? Date.now;
  let advancedMs = 0;
  const cache = new PromptCache(() => clock() + advancedMs);
  const script = new Script();
  const gates = new Gates();
  const log: RecordedRequest[] = [];
  let counter = 0;

  // Closing drops open connections: a scripted slow response must not hold a test's teardown.
  const app = Fastify({ bodyLimit: 32 * 1024 * 1024, forceCloseConnections: true }) as unknown as FastifyInstance & {
    script: Script;
  };
  app.decorate('script', script);
  app.addHook('onClose', async () => gates.releaseAll());

  const record = (entry: Omit<RecordedRequest, 'at'>) => {
    log.push({ at: new Date().toISOString(), ...entry });
    if (log.length > 500) log.shift();
  };

  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode === 413 ? 413 : (err.statusCode ?? 500) < 500 ? 400 : 500;
    void sendError(reply, status, err.message, `req_offline_${++counter}`);
  });

  app.post('/v1/messages', async (req, reply) => {
    const requestId = `req_offline_${++counter}`;
    if (!req.headers['x-api-key'] && !req.headers.authorization) {
      record({ model: '', status: 401, stream: false, body: req.body });
      return sendError(reply, 401, 'x-api-key header is required', requestId);
    }
    const parsed = requestSchema.safeParse(req.body);
    if (!parsed.success) {
      record({ model: '', status: 400, stream: false, body: req.body });
      return sendError(
        reply,
        400,
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        requestId,
      );
    }
    const body = parsed.data;
    const invalid = checkCacheControl(body);
    const status = invalid ? 400 : models.has(body.model) ? 200 : 404;
    if (status !== 200) {
      record({ model: body.model, status, stream: !!body.stream, body });
      return sendError(reply, status, invalid ?? `model: ${body.model}`, requestId);
    }
    const input = responderInput(body);
    const last = input.messages.at(-1);
    const actions = script.next({
      model: body.model,
      lastUserText: last?.text ?? '',
      lastIsToolResults: last?.toolResults === true,
    });
    await sleep(script.latencyMs + actions.reduce((t, a) => t + (a.kind === 'delay' ? a.ms : 0), 0));
    for (const a of actions) if (a.kind === 'hold') await gates.wait(a.gate);
    const decisive = actions.find((a) => !isWait(a));
    if (decisive?.kind === 'error') {
      record({ model: body.model, status: decisive.status, stream: !!body.stream, body });
      return sendError(
        reply,
        decisive.status,
        decisive.message ?? defaultMessage(decisive.status),
        requestId,
        decisive,
      );
    }
    if (decisive?.kind === 'invalid') {
      record({ model: body.model, status: 200, stream: false, body });
      return reply.header('request-id', requestId).send({ unexpected: true });
    }

    const offered = (body.tools ?? []).map((t) => t.name);
    const calls =
      decisive?.kind === 'tool_use'
        ? decisive.calls
        : decisive?.kind === 'reply'
          ? undefined
          : offlineToolCalls(input, offered);
    const toolBlocks: OfflineBlock[] = (calls ?? []).map((c) => ({
      type: 'tool_use',
      id: `toolu_offline_${++counter}`,
      name: c.name,
      input: c.input,
    }));
    const replyText =
      decisive?.kind === 'reply'
        ? decisive.text
        : decisive?.kind === 'tool_use'
          ? (decisive.text ?? '')
          : calls
            ? ''
            : offlineReply(input);
    const text = truncateToTokens(replyText, body.max_tokens);
    const outputTokens = Math.max(
      1,
      offlineTokens(text.value) + (toolBlocks.length > 0 ? offlineTokens(JSON.stringify(toolBlocks)) : 0),
    );
    const caching = cache.account(body.model, promptBlocks(body), cacheMinimum(minimums, body.model));
    const usage = {
      input_tokens: caching.inputTokens,
      output_tokens: outputTokens,
      cache_creation_input_tokens: caching.cacheWrite5mTokens + caching.cacheWrite1hTokens,
      cache_read_input_tokens: caching.cacheReadTokens,
      cache_creation: {
        ephemeral_5m_input_tokens: caching.cacheWrite5mTokens,
        ephemeral_1h_input_tokens: caching.cacheWrite1hTokens,
      },
      service_tier: 'standard',
    };
    record({ model: body.model, status: 200, stream: !!body.stream, body, usage });
    const message = {
      id: `msg_offline_${counter}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [
        ...(text.value || toolBlocks.length === 0 ? [{ type: 'text' as const, text: text.value }] : []),
        ...toolBlocks,
      ],
      stop_reason: text.truncated ? 'max_tokens' : toolBlocks.length > 0 ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage,
    };
    if (decisive?.kind === 'truncate') {
      // Headers and part of the body, then the connection drops: what a reset mid-response looks like.
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': body.stream ? 'text/event-stream' : 'application/json',
        'request-id': requestId,
      });
      // A stream is cut in the middle of its text (some deltas sent), a JSON body in the middle of its bytes.
      const events = [...sseEvents(message)];
      const cut = body.stream
        ? events.slice(0, Math.ceil(events.findIndex((e) => e.startsWith('event: content_block_stop')) * 0.7)).join('')
        : JSON.stringify(message).slice(0, Math.floor(JSON.stringify(message).length / 2));
      // Let what was written reach the client before the connection drops (destroy discards unflushed data).
      reply.raw.write(cut, () => setTimeout(() => reply.raw.destroy(), 50));
      return reply;
    }
    if (body.stream) {
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'request-id': requestId,
      });
      for (const event of sseEvents(message)) {
        reply.raw.write(event);
        if (script.streamChunkDelayMs > 0) await sleep(script.streamChunkDelayMs);
      }
      reply.raw.end();
      return reply;
    }
    return reply.header('request-id', requestId).send(message);
  });

  app.post('/v1/messages/count_tokens', async (req, reply) => {
    const parsed = requestSchema.omit({ max_tokens: true }).safeParse(req.body);
    if (!parsed.success) return sendError(reply, 400, parsed.error.message, `req_offline_${++counter}`);
    const tokens = promptBlocks({ ...parsed.data, max_tokens: 1 }).reduce((t, b) => t + b.tokens, 0);
    return { input_tokens: tokens };
  });

  app.post('/_offline/script', async (req, reply) => {
    const parsed = scriptSchema.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: parsed.error.message });
    script.add(parsed.data.rules);
    if (parsed.data.latencyMs !== undefined) script.latencyMs = parsed.data.latencyMs;
    if (parsed.data.streamChunkDelayMs !== undefined) script.streamChunkDelayMs = parsed.data.streamChunkDelayMs;
    return { ok: true };
  });
  app.post('/_offline/release', async (req, reply) => {
    const parsed = z.strictObject({ gate: z.string().min(1) }).safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: parsed.error.message });
    return { released: gates.release(parsed.data.gate) };
  });
  app.post('/_offline/reset', async () => {
    script.reset();
    gates.releaseAll();
    cache.clear();
    log.length = 0;
    return { ok: true };
  });
  app.get('/_offline/requests', async () => ({ requests: log }));
  app.post('/_offline/clock', async (req, reply) => {
    const parsed = z.strictObject({ advanceMs: z.number().int().min(0) }).safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: parsed.error.message });
    advancedMs += parsed.data.advanceMs;
    return { advancedMs };
  });

  return app;
}

function sendError(reply: FastifyReply, status: number, message: string, requestId: string, action?: Action) {
  if (action?.kind === 'error') {
    if (action.retryAfterSeconds !== undefined) reply.header('retry-after', String(action.retryAfterSeconds));
    if (action.retryAfterMs !== undefined) reply.header('retry-after-ms', String(action.retryAfterMs));
  }
  return (
    reply
      .code(status)
      .header('request-id', requestId)
      // The SDK retries on its own when told to; Memoir turns that off, and the header proves it is ignored.
      .header('x-should-retry', status >= 500 || status === 429 ? 'true' : 'false')
      .send({ type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message }, request_id: requestId })
  );
}

function defaultMessage(status: number): string {
  return status === 529 ? 'Overloaded' : status === 429 ? 'Rate limited' : `Scripted error ${status}`;
}

/** At most 4 breakpoints, and longer TTLs before shorter ones, as the API requires. */
function checkCacheControl(body: MessagesRequest): string | undefined {
  const ttls = promptBlocks(body).flatMap((b) => (b.cacheTtl ? [b.cacheTtl] : []));
  if (ttls.length > 4) return `A maximum of 4 blocks with cache_control may be provided. Found ${ttls.length}.`;
  const firstShort = ttls.indexOf('5m');
  if (firstShort >= 0 && ttls.slice(firstShort).includes('1h')) {
    return 'a ttl="1h" cache_control block must not come after a ttl="5m" cache_control block';
  }
  return undefined;
}

type Block = z.infer<typeof block>;

/** A block's text as the responder reads it: a tool_result's content, a tool_use's input as JSON. */
function blockText(b: Block): string {
  if (b.type === 'tool_result') {
    const c = (b as { content?: unknown }).content;
    if (typeof c === 'string') return c;
    return Array.isArray(c) ? c.map((x: { text?: string }) => x.text ?? '').join('\n') : '';
  }
  if (b.type === 'tool_use') return JSON.stringify((b as { input?: unknown }).input ?? {});
  return b.text ?? '';
}

function textOf(c: z.infer<typeof content> | undefined): string {
  if (c === undefined) return '';
  return typeof c === 'string' ? c : c.map(blockText).join('\n');
}

function responderInput(body: MessagesRequest): ResponderInput {
  return {
    system: textOf(body.system),
    messages: body.messages.map((m) => ({
      role: m.role,
      text: textOf(m.content),
      ...(typeof m.content !== 'string' && m.content.some((b) => b.type === 'tool_result')
        ? { toolResults: true }
        : {}),
    })),
  };
}

/** The prompt as the ordered blocks the cache sees: tools, then system, then each message's content blocks. */
function promptBlocks(body: MessagesRequest): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  const push = (value: unknown, text: string, ttl: '5m' | '1h' | undefined, overhead = 0) => {
    const { cache_control: _ignored, ...rest } = value as { cache_control?: unknown };
    blocks.push({
      key: JSON.stringify(rest),
      tokens: offlineTokens(text) + overhead,
      ...(ttl ? { cacheTtl: ttl } : {}),
    });
  };
  const ttlOf = (b: { cache_control?: { ttl?: '5m' | '1h' | undefined } | undefined }) =>
    b.cache_control ? (b.cache_control.ttl ?? '5m') : undefined;
  for (const tool of body.tools ?? []) push(tool, JSON.stringify(tool), ttlOf(tool));
  if (typeof body.system === 'string') push({ system: body.system }, body.system, undefined);
  else for (const b of body.system ?? []) push(b, b.text ?? '', ttlOf(b));
  for (const m of body.messages) {
    const parts = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    parts.forEach((b, i) =>
      push({ role: m.role, ...b }, b.text ?? JSON.stringify(b), ttlOf(b), i === 0 ? MESSAGE_OVERHEAD_TOKENS : 0),
    );
  }
  return blocks;
}

function truncateToTokens(text: string, maxTokens: number): { value: string; truncated: boolean } {
  const maxChars = maxTokens * 4;
  return text.length <= maxChars
    ? { value: text, truncated: false }
    : { value: text.slice(0, maxChars), truncated: true };
}

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
