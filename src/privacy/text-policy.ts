/**
 * Redaction applied by policy (`MEMOIR_REDACT`) at each stage text passes through: the semantic index, the stored
 * messages, what the model is sent. Logs are always redacted (see log.ts). What was removed is recorded by kind
 * and keyed hash in `redactions`, never the original.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readOrCreate } from '../files';
import { appliesTo, type Redactor, type Finding, type RedactPolicy, type RedactStage } from './redact';

export class TextPolicy {
  constructor(
    readonly redactor: Redactor,
    readonly policy: RedactPolicy,
  ) {}

  applies(stage: RedactStage): boolean {
    return appliesTo(this.policy, stage);
  }

  /** The text as the stage may keep it, and what was taken out. */
  at(stage: RedactStage, text: string): { text: string; findings: Finding[] } {
    return this.applies(stage) ? this.redactor.redact(text) : { text, findings: [] };
  }
}

/** The key of the audit hashes: MEMOIR_REDACT_KEY, else one kept in the data directory (stable across restarts). */
export function redactionKey(explicit: string | undefined, dataDir: string): string {
  return explicit ?? readOrCreate(path.join(dataDir, 'redact-key'), () => randomBytes(32).toString('base64url'));
}
