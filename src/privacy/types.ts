/**
 * The kinds of personal data and secrets the redactor knows, and the span shape every detector reports.
 * Pure (no I/O, no Node built-ins), so policy code anywhere may import it.
 */
import { z } from 'zod';

/** Every detectable type, in the order findings of equal length are preferred (most specific first). */
export const PII_TYPES = ['api_key', 'bearer_token', 'iban', 'card', 'national_id', 'email', 'ip', 'phone'] as const;
export type PiiType = (typeof PII_TYPES)[number];

/** Validates a type list read from configuration. */
export const piiTypeSchema = z.enum(PII_TYPES);

/** A half-open `[start, end)` range of UTF-16 code units in the scanned text. */
export interface Span {
  type: PiiType;
  start: number;
  end: number;
}

/** Finds every occurrence of one kind of data. Detectors may overlap one another; the redactor arbitrates. */
export interface Detector {
  type: PiiType;
  find(text: string): Span[];
}
