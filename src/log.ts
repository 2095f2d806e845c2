/**
 * Structured JSON logs (pino), one line per event. Message text and secrets stay out of info-level logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { redactLogValue, type Redactor } from './privacy/redact';

export type { Logger } from 'pino';

export interface LogOptions {
  level: string;
  /** Write to this file instead of stdout (the interactive CLI keeps the terminal for the conversation). */
  file?: string;
  /** Strips personal data (emails, cards, keys…) from every line. */
  redactor?: Redactor;
}

export function createLogger(opts: LogOptions): Logger {
  const base = {
    level: opts.level,
    base: { service: 'memoir' },
    redact: {
      paths: ['*.apiKey', '*.authorization', 'apiKey', 'authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(opts.redactor ? redactingHooks(opts.redactor) : {}),
  };
  if (!opts.file) return pino(base);
  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  // Opened here, synchronously: a destination given a path opens it asynchronously, and a `process.exit` before
  // that open finished (a CLI verb failing fast) made pino's exit hook throw "sonic boom is not ready yet" with a
  // stack. Writes stay asynchronous.
  return pino(base, pino.destination({ dest: fs.openSync(opts.file, 'a'), sync: false }));
}

/** Redacts the structured fields and the message of every line. */
function redactingHooks(redactor: Redactor) {
  return {
    formatters: { log: (obj: Record<string, unknown>) => redactLogValue(obj, redactor) as Record<string, unknown> },
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
