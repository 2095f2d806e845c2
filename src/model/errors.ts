/**
 * Turns whatever a model call threw into a Temporal `ApplicationFailure` with a stable type: retryable ones carry
 * the delay the API asked for (`retry-after-ms`, then `retry-after`), or exponential backoff with jitter;
 * the rest are non-retryable. This is the only place retry timing is decided — the SDK's own retries are off.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure } from '@temporalio/common';
import { ModelFailure, type ModelFailureType } from './failure-types';

export interface RetryTiming {
  /** Upper bound on any delay, including one the API asks for. */
  maxDelayMs: number;
  /** First backoff step when the API gives no hint. */
  baseDelayMs: number;
}

export interface ClassifiedFailure {
  type: ModelFailureType;
  retryable: boolean;
  status: number | undefined;
  requestId: string | undefined;
  /** Delay asked for by the API, in ms, before capping. */
  retryAfterMs: number | undefined;
  message: string;
}

export function classifyModelError(err: unknown): ClassifiedFailure {
  const base = { status: undefined, requestId: undefined, retryAfterMs: undefined, message: messageOf(err) };
  if (err instanceof Anthropic.APIConnectionTimeoutError)
    return { ...base, type: ModelFailure.timeout, retryable: true };
  if (err instanceof Anthropic.APIConnectionError) return { ...base, type: ModelFailure.connection, retryable: true };
  if (err instanceof InvalidModelResponse) return { ...base, type: ModelFailure.invalidResponse, retryable: false };
  if (err instanceof Anthropic.AnthropicError && !(err instanceof Anthropic.APIError)) {
    // The SDK could not make a message of a 200 response: cut short (a reset, so retry) or not a message at all.
    const cutShort = /stream ended|terminated|premature/i.test(base.message);
    return { ...base, type: cutShort ? ModelFailure.connection : ModelFailure.invalidResponse, retryable: cutShort };
  }
  if (!(err instanceof Anthropic.APIError) || err.status === undefined) {
    // A dropped connection mid-body surfaces as a plain error from the HTTP stack: a transient network failure.
    return { ...base, type: ModelFailure.connection, retryable: true };
  }
  const full = {
    ...base,
    status: err.status,
    requestId: err.requestID ?? undefined,
    retryAfterMs: retryAfterMs(err.headers),
  };
  const status = err.status;
  if (err.type === 'billing_error' || err.errorCode?.endsWith('spend_limit_reached')) {
    return { ...full, type: ModelFailure.spendLimit, retryable: false };
  }
  if (status === 429) return { ...full, type: ModelFailure.rateLimited, retryable: true };
  if (status === 529) return { ...full, type: ModelFailure.overloaded, retryable: true };
  if (status === 408) return { ...full, type: ModelFailure.timeout, retryable: true };
  if (status >= 500) return { ...full, type: ModelFailure.serverError, retryable: true };
  const nonRetryable: Record<number, ModelFailureType> = {
    401: ModelFailure.authentication,
    403: ModelFailure.permission,
    404: ModelFailure.notFound,
    413: ModelFailure.requestTooLarge,
  };
  return { ...full, type: nonRetryable[status] ?? ModelFailure.badRequest, retryable: false };
}

/** The `ApplicationFailure` an activity throws for a model error on its `attempt`-th try. */
export function toApplicationFailure(c: ClassifiedFailure, attempt: number, timing: RetryTiming): ApplicationFailure {
  const details = [{ status: c.status ?? null, requestId: c.requestId ?? null, retryAfterMs: c.retryAfterMs ?? null }];
  const message = `${c.type}${c.status ? ` (HTTP ${c.status})` : ''}: ${c.message}`;
  if (!c.retryable) return ApplicationFailure.create({ message, type: c.type, nonRetryable: true, details });
  return ApplicationFailure.create({
    message,
    type: c.type,
    details,
    nextRetryDelay: retryDelayMs(c, attempt, timing),
  });
}

/** The API's own hint when it gave one, else exponential backoff with full jitter on the upper half; capped. */
export function retryDelayMs(
  c: Pick<ClassifiedFailure, 'retryAfterMs'>,
  attempt: number,
  t: RetryTiming,
  random = Math.random,
): number {
  if (c.retryAfterMs !== undefined) return Math.min(c.retryAfterMs, t.maxDelayMs);
  const exponential = Math.min(t.maxDelayMs, t.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() * 0.5));
}

/** `retry-after-ms` (milliseconds) wins over `retry-after` (seconds, or an HTTP date). */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** A 200 response that is not a usable message. */
export class InvalidModelResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidModelResponse';
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
