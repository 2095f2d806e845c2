/**
 * The codec server: lets an authorised operator see decrypted payloads in the Temporal UI (or the `temporal` CLI
 * with `--codec-endpoint`). The UI posts `{ payloads: [{ metadata: {k: base64}, data: base64 }] }` to
 * `<endpoint>/decode` and `/encode`, from the browser, with `content-type`, `x-namespace` and `authorization`.
 *
 * Decoding uses only each payload's key id, so the server needs no workflow context; encoding without one uses the
 * `system` key. Every request needs a bearer token; browsers are served only from the configured origins.
 * Payloads are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { isIP } from 'node:net';
import { bearerKey } from '../api/auth';
import { accessLog, timeoutOptions } from '../api/http-server';
import { KeyConfigError, TamperedCiphertextError, UnknownKeyError } from './errors';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Bearer tokens that may use the server (16+ characters each). */
  tokens: string[];
  /** Browser origins allowed by CORS, e.g. `http://localhost:8233` (the Temporal UI). */
  allowedOrigins: string[];
  /**
   * Origins whose requests need no token: only for the embedded dev server's UI on loopback, which cannot send
   * one. Trusted only from a loopback peer — anyone can forge an Origin header, and a server bound beyond loopback
   * must not hand out plaintext for one. A local process can forge it too, so use this only where local processes
   * are trusted anyway (they can read the data directory's key file).
   */
  trustedOrigins?: string[];
  /** Longest time to receive a request, headers and body (default 30 s); slower clients get 408. */
  requestTimeoutMs?: number;
  /** Largest request body in bytes. Default 8 MiB (a Temporal payload is at most 2 MB; base64 adds a third). */
  bodyLimit?: number;
  /** Request log (never with bodies). Default: none. */
  logger?: FastifyBaseLogger;
}

const ALLOWED_HEADERS = 'content-type, x-namespace, authorization';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const base64 = z.string().regex(BASE64, 'expected base64');
const bodySchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() })),
});
type JsonPayload = { metadata: Record<string, string>; data: string };

const digest = (token: string) => createHash('sha256').update(token).digest();

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function createCodecServer(opts: CodecServerOptions): FastifyInstance {
  if (opts.tokens.length === 0 || opts.tokens.some((t) => t.length < 16))
    throw new KeyConfigError('codec server: give at least one bearer token, each of 16+ characters');
  const trusted = new Set((opts.trustedOrigins ?? []).map(normalizeOrigin));
  const tokens = opts.tokens.map(digest);
  const origins = new Set(opts.allowedOrigins.map(normalizeOrigin));
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const app: FastifyInstance = Fastify({
    bodyLimit: opts.bodyLimit ?? 8 * 1024 * 1024,
    ...timeoutOptions({ requestTimeoutMs, idleTimeoutMs: 2 * requestTimeoutMs }),
    logController: accessLog(),
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
  });

  app.setErrorHandler((err, req, reply) => sendError(req.log, reply, err));
  app.setNotFoundHandler((req, reply) => sendError(req.log, reply, new HttpError(404, 'not_found', 'no such route')));

  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    reply.header('vary', 'Origin');
    if (origin !== undefined && origins.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      // The UI can be set to send credentials; then the browser needs this too.
      reply.header('access-control-allow-credentials', 'true');
    }
    // A preflight carries no authorization header: it is answered by the OPTIONS route alone.
    if (req.method === 'OPTIONS') return;
    if (origin !== undefined && trusted.has(origin) && isLoopback(req.socket.remoteAddress)) return;
    const candidate = digest(bearerKey(req.headers.authorization) ?? '');
    let ok = false;
    // Compare against every token so the time taken does not reveal which one matched.
    for (const t of tokens) ok = timingSafeEqual(t, candidate) || ok;
    if (!ok)
      throw new HttpError(401, 'unauthorized', 'a valid codec token is required (Authorization: Bearer <token>)');
  });

  app.options('/codec/*', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin === undefined || !origins.has(origin))
      throw new HttpError(403, 'origin_not_allowed', 'this origin may not use the codec server');
    return reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', ALLOWED_HEADERS)
      .header('access-control-max-age', '600')
      .send();
  });

  const route = (name: 'encode' | 'decode') =>
    app.post(`/codec/${name}`, async (req) => {
      const parsed = bodySchema.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new HttpError(400, 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      const payloads = parsed.data.payloads.map(fromJson);
      const out = name === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
      return { payloads: out.map(toJson) };
    });
  route('encode');
  route('decode');
  return app;
}

function sendError(log: FastifyBaseLogger, reply: FastifyReply, err: unknown) {
  if (err instanceof HttpError) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
  if (err instanceof UnknownKeyError || err instanceof TamperedCiphertextError)
    return reply.code(422).send({ error: { code: 'undecodable', message: err.message } });
  const status = (err as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
    return reply.code(status).send({ error: { code, message: (err as Error).message } });
  }
  log.error({ err }, 'codec request failed');
  return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (`::ffff:127.0.0.1`, what a dual-stack listener reports). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

function normalizeOrigin(origin: string): string {
  const url = new URL(origin);
  if (url.origin === 'null') throw new KeyConfigError(`codec server: "${origin}" is not an origin`);
  return url.origin;
}

function fromJson(p: { metadata?: Record<string, string> | null | undefined; data?: string | null | undefined }) {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  } satisfies Payload;
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}
