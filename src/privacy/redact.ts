/**
 * The PII redactor: finds emails, phone numbers, payment cards, national ids, IBANs, API keys, bearer tokens and
 * IP addresses, and replaces each with a placeholder naming its type and a keyed hash of the value —
 * `[email:3f2a9c1b0d4e5f67]` — so audit can tell that two records held the same value without either holding it.
 *
 * The hash is HMAC-SHA256 under a secret key, truncated to 64 bits: stable for a given key, and not reversible by
 * hashing every phone number or card in a range, which a plain hash of such small spaces would allow.
 *
 * It uses `node:crypto` and `node:net`, so it runs in activities, the API and the logger — never in workflow code;
 * workflows import only the pure policy (`./policy`) and types (`./types`).
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { DETECTORS } from './detectors';
import { PII_TYPES, piiTypeSchema, type PiiType, type Span } from './types';

export { PII_TYPES, piiTypeSchema, type PiiType } from './types';
export { REDACT_POLICIES, redactPolicySchema, appliesTo, type RedactPolicy, type RedactStage } from './policy';

/** One detected value. It deliberately carries no copy of the value: findings go to audit logs. */
export interface Finding {
  type: PiiType;
  /** Start offset (UTF-16 code units) in the scanned text. */
  start: number;
  /** End offset, exclusive. */
  end: number;
  /** Keyed hash of the value (see {@link Redactor.hash}), 16 hex characters. */
  hash: string;
}

export interface Redaction {
  text: string;
  findings: Finding[];
}

export interface RedactorOptions {
  /** HMAC key for the audit hashes. Keep it secret and stable: rotating it breaks correlation with old records. */
  hashKey: string | Buffer;
  /** Types to detect; all of them when omitted. */
  types?: readonly PiiType[];
}

const optionsSchema = z.object({
  hashKey: z.union([z.string().min(1), z.instanceof(Buffer).refine((b) => b.length > 0)], {
    error: 'hashKey must be a non-empty string or Buffer',
  }),
  types: z.array(piiTypeSchema).optional(),
});

/** Rank among spans of equal length: the earlier in `PII_TYPES`, the more specific. */
const SPECIFICITY = new Map<PiiType, number>(PII_TYPES.map((t, i) => [t, i]));

export class Redactor {
  readonly types: readonly PiiType[];
  readonly #key: Buffer;

  constructor(opts: RedactorOptions) {
    const parsed = optionsSchema.parse(opts);
    this.#key = typeof parsed.hashKey === 'string' ? Buffer.from(parsed.hashKey, 'utf8') : Buffer.from(parsed.hashKey);
    this.types = PII_TYPES.filter((t) => !parsed.types || parsed.types.includes(t));
  }

  /** Every PII value in `text`, in order, without overlaps. */
  find(text: string): Finding[] {
    const spans = resolveOverlaps(
      this.types.flatMap((t) => DETECTORS[t].find(text)),
      text.length,
    );
    return spans.map((s) => ({ ...s, hash: this.hash(s.type, text.slice(s.start, s.end)) }));
  }

  /** `text` with each finding replaced by `[type:hash]`; everything else is left byte for byte. */
  redact(text: string): Redaction {
    const findings = this.find(text);
    if (findings.length === 0) return { text, findings };
    const parts: string[] = [];
    let at = 0;
    for (const f of findings) {
      parts.push(text.slice(at, f.start), `[${f.type}:${f.hash}]`);
      at = f.end;
    }
    parts.push(text.slice(at));
    return { text: parts.join(''), findings };
  }

  /**
   * The audit hash of a value of `type`. Values are canonicalised first — separators dropped from numbers, emails
   * lower-cased — so `4111 1111 1111 1111` and `4111-1111-1111-1111` correlate as the same card.
   */
  hash(type: PiiType, value: string): string {
    return createHmac('sha256', this.#key).update(canonical(type, value)).digest('hex').slice(0, 16);
  }
}

function canonical(type: PiiType, value: string): string {
  switch (type) {
    case 'card':
    case 'iban':
    case 'national_id':
      return value.replace(/[^0-9A-Za-z]/g, '').toUpperCase();
    case 'phone':
      return value.replace(/[^0-9+]/g, '');
    case 'email':
    case 'ip':
      return value.toLowerCase();
    default:
      return value;
  }
}

/**
 * Keeps the longest of overlapping spans (a card number inside an email address belongs to the address), the most
 * specific type among equally long ones. Marking claimed characters keeps this linear in the total span length.
 */
function resolveOverlaps(spans: Span[], textLength: number): Span[] {
  if (spans.length < 2) return spans;
  spans.sort(
    (a, b) =>
      b.end - b.start - (a.end - a.start) ||
      (SPECIFICITY.get(a.type) ?? 0) - (SPECIFICITY.get(b.type) ?? 0) ||
      a.start - b.start,
  );
  const claimed = new Uint8Array(textLength);
  const kept: Span[] = [];
  for (const s of spans) {
    if (claimed.subarray(s.start, s.end).includes(1)) continue;
    claimed.fill(1, s.start, s.end);
    kept.push(s);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** What {@link redactLogValue} needs of a redactor (the logger passes one that remembers clean strings). */
export type TextRedactor = Pick<Redactor, 'redact'>;

/** How deep {@link redactLogValue} descends; deeper objects are replaced whole rather than logged unredacted. */
export const LOG_MAX_DEPTH = 8;

/**
 * A copy of a log object with every string (keys included) redacted, for a pino `formatters.log` hook. Numbers,
 * booleans, null and dates pass through; errors become `{ type, message, stack }` like pino's serializer makes
 * them; cycles and anything below `maxDepth` are replaced by a marker, so nothing escapes unredacted.
 */
export function redactLogValue(value: unknown, redactor: TextRedactor, maxDepth = LOG_MAX_DEPTH): unknown {
  return walk(value, redactor, maxDepth, new WeakSet());
}

function walk(value: unknown, redactor: TextRedactor, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactor.redact(value).text;
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth <= 0) return '[Truncated]';
  seen.add(value);
  const next = (v: unknown): unknown => walk(v, redactor, depth - 1, seen);
  try {
    if (Array.isArray(value)) return value.map(next);
    if (value instanceof Error) {
      const { name, message, stack } = value;
      return { ...objectOf(value, redactor, next), type: name, message: next(message), stack: next(stack) };
    }
    // URL, Buffer and the like log as their toJSON(); redact what that produces.
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return next(toJSON.call(value));
    return objectOf(value, redactor, next);
  } finally {
    // Shared (not cyclic) references are fine: only the current path counts as a cycle.
    seen.delete(value);
  }
}

function objectOf(value: object, redactor: TextRedactor, next: (v: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[redactor.redact(k).text] = next(v);
  return out;
}
