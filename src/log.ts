/**
 * Structured JSON logs (pino), one line per event. Message text and secrets stay out of info-level logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { redactLogValue, type Redactor, type TextRedactor } from './privacy/redact';

export type { Logger } from 'pino';

export interface LogOptions {
  level: string;
  /** Write to this file instead of stdout (the interactive CLI keeps the terminal for the conversation). */
  file?: string;
  /** Strips personal data (emails, cards, keys…) from every line. */
  redactor?: Redactor;
}

interface RequestLike {
  method?: string;
  url?: string;
  /** Fastify's request has `ip`; a summary made by {@link serializeRequest} already has `remoteAddress`. */
  ip?: string;
  remoteAddress?: string;
  remotePort?: number;
  socket?: { remoteAddress?: string; remotePort?: number };
}

/**
 * What a request line says about a request: no headers (they carry the API key) and no body. Idempotent, because
 * pino applies it again after the redacting formatter has already summarised the request.
 */
export function serializeRequest(req: RequestLike) {
  return {
    method: req.method,
    url: req.url,
    remoteAddress: req.ip ?? req.remoteAddress ?? req.socket?.remoteAddress,
    remotePort: req.remotePort ?? req.socket?.remotePort,
  };
}

export function serializeResponse(res: { statusCode?: number }) {
  return { statusCode: res.statusCode };
}

export function createLogger(opts: LogOptions): Logger {
  const base = {
    level: opts.level,
    base: { service: 'memoir' },
    // Fastify keeps a logger's own serializers over its defaults.
    serializers: { req: serializeRequest, res: serializeResponse },
    redact: {
      paths: ['*.apiKey', '*.authorization', 'apiKey', 'authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(opts.redactor ? redactingHooks(opts.redactor) : {}),
  };
  if (!opts.file) return pino(base);
  // The log lives in the data directory, which only its owner may enter.
  fs.mkdirSync(path.dirname(opts.file), { recursive: true, mode: 0o700 });
  // Opened here, synchronously: a destination given a path opens it asynchronously, and a `process.exit` before
  // that open finished (a CLI verb failing fast) made pino's exit hook throw "sonic boom is not ready yet" with a
  // stack. Writes stay asynchronous.
  return pino(base, pino.destination({ dest: fs.openSync(opts.file, 'a'), sync: false }));
}

/**
 * Redacts the structured fields and the message of every line. The formatter runs before pino's serializers, so a
 * request or reply is summarised first: walked as it is, its getters (method, url, ip, statusCode) would be lost. The
 * client address and status stay as they are (an access log needs them); the URL is redacted like any text.
 */
function redactingHooks(scanning: Redactor) {
  const redactor = rememberingClean(scanning);
  return {
    formatters: {
      log: (obj: Record<string, unknown>) => {
        const { req, res, ...rest } = obj;
        const out = redactLogValue(rest, redactor) as Record<string, unknown>;
        if (isObject(req)) {
          const summary = serializeRequest(req);
          out.req = { ...summary, url: summary.url === undefined ? undefined : redactor.redact(summary.url).text };
        } else if (req !== undefined) out.req = redactLogValue(req, redactor);
        if (isObject(res)) out.res = serializeResponse(res);
        else if (res !== undefined) out.res = redactLogValue(res, redactor);
        return out;
      },
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? redactor.redact(a).text : a)),
        );
      },
    },
  };
}

/** Strings up to this long that held nothing to redact are remembered (ids, field and model names). */
const CLEAN_MAX_CHARS = 256;

/**
 * The redactor, skipping strings it already found clean: the same ids, field names and model names recur on every
 * line, and scanning each for every kind of personal data costs ~0.3 ms a line. Only clean strings are remembered
 * (and only short ones), so no personal data is kept in memory by this; a string with findings is scanned each time.
 */
function rememberingClean(redactor: Redactor): TextRedactor {
  const clean = new LRUCache<string, true>({ max: 10_000 });
  return {
    redact(text) {
      if (clean.has(text)) return { text, findings: [] };
      const out = redactor.redact(text);
      if (out.findings.length === 0 && text.length <= CLEAN_MAX_CHARS) clean.set(text, true);
      return out;
    },
  };
}

const isObject = (v: unknown): v is Record<string, never> => typeof v === 'object' && v !== null;
