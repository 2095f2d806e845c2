/**
 * What every Memoir HTTP listener (the API, the codec server) shares: bounded request times and one access-log line
 * per request.
 */
import type { ServerOptions } from 'node:http';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export interface HttpTimeouts {
  /**
   * Longest time to receive a whole request, headers and body; a client that trickles it in is answered 408 and
   * disconnected. It does not limit the response: a long reply or an event stream is not cut by it.
   */
  requestTimeoutMs: number;
  /** A socket without any traffic for this long is closed (must exceed the longest silent wait for a reply). */
  idleTimeoutMs: number;
}

/** Fastify options that set the timeouts on the underlying Node server. */
export function timeoutOptions(t: HttpTimeouts): {
  requestTimeout: number;
  connectionTimeout: number;
  http: ServerOptions;
} {
  return {
    requestTimeout: t.requestTimeoutMs,
    connectionTimeout: t.idleTimeoutMs,
    http: {
      requestTimeout: t.requestTimeoutMs,
      headersTimeout: t.requestTimeoutMs,
      // Node checks the request and header timeouts on this interval (default 30 s): a bound of a few seconds would
      // otherwise be enforced up to 30 s late.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(t.requestTimeoutMs / 4))),
    },
  };
}

/**
 * One line per request, `request completed` (or `request errored`), with method, URL, client address and status
 * together: Fastify's default split them over two lines and the redacting formatter lost the request's half. The
 * request/response serializers of `createLogger` decide what is kept (never headers or bodies).
 */
class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const line = { req, res: reply, responseTimeMs: Math.round(reply.elapsedTime) };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

/** Fastify's `logController` option for an access log (see {@link AccessLog}). */
export const accessLog = (): LogController => new AccessLog();
