/**
 * Where redaction applies (`MEMOIR_REDACT`). Logs and metrics are always redacted; the policy decides how much
 * further it reaches. Pure, so workflow code may import it to decide what to pass to activities.
 */
import { z } from 'zod';

/**
 * Cumulative, each level including the ones before it:
 * - `off` — only logs and metrics are redacted; stored text, the semantic index and the model see the original.
 * - `index` — also text embedded into the semantic index, so search results never surface the raw values.
 * - `store` — also the text stored in the database (and therefore the index, which is built from it).
 * - `model` — also what the model sees: the prompt carries placeholders instead of the values.
 */
export const REDACT_POLICIES = ['off', 'index', 'store', 'model'] as const;
export type RedactPolicy = (typeof REDACT_POLICIES)[number];

/** Validates `MEMOIR_REDACT`. */
export const redactPolicySchema = z.enum(REDACT_POLICIES);

/** A place text flows to that the policy governs (logs and metrics are not one: they are always redacted). */
export type RedactStage = Exclude<RedactPolicy, 'off'>;

/** Whether text bound for `stage` must be redacted under `policy`. */
export function appliesTo(policy: RedactPolicy, stage: RedactStage): boolean {
  return REDACT_POLICIES.indexOf(policy) >= REDACT_POLICIES.indexOf(stage);
}
