/**
 * The process's redaction policy and its logger, both from the configuration.
 */
import path from 'node:path';
import type { Config } from '../config';
import { createLogger, type Logger } from '../log';
import { Redactor } from '../privacy/redact';
import { redactionKey, TextPolicy } from '../privacy/text-policy';

export function textPolicy(config: Config): TextPolicy {
  return new TextPolicy(
    new Redactor({ hashKey: redactionKey(config.redaction.key, config.dataDir) }),
    config.redaction.policy,
  );
}

/** A logger that redacts personal data from every line; `file` keeps the terminal free (interactive verbs). */
export function loggerFor(config: Config, file?: string): Logger {
  return createLogger({
    level: config.logLevel,
    redactor: textPolicy(config).redactor,
    ...(file ? { file: path.resolve(file) } : {}),
  });
}
