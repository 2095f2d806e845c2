/**
 * Message validation shared by the update validator, the signal handler and the API. Pure and deterministic.
 */
import { FailureTypes, ID_PATTERN, type ConversationPolicy } from './contract';

export interface Rejection {
  type: string;
  message: string;
}

/** UTF-8 length without TextEncoder (the workflow sandbox must not depend on host APIs). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Lone surrogates cannot be stored as UTF-8 and NUL cannot be stored in PostgreSQL text. */
export function hasInvalidText(text: string): boolean {
  return /[\u0000]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** How far ahead of the receiver's clock a `sentAt` may be (clocks of senders drift; a date years ahead is a bug). */
export const SENT_AT_MAX_AHEAD_MS = 10 * 60_000;
/** `2023-05-08T13:56:00Z`, `2023-05-08T13:56:00.123+02:00`: a full timestamp with a time zone, nothing looser. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Why a `sentAt` is refused, or undefined when it is a valid timestamp no later than `now` (plus drift). */
export function checkSentAt(sentAt: unknown, now: number): string | undefined {
  if (typeof sentAt !== 'string' || !ISO_TIMESTAMP.test(sentAt) || Number.isNaN(Date.parse(sentAt))) {
    return 'sentAt must be an ISO 8601 timestamp with a time zone, such as 2023-05-08T13:56:00Z';
  }
  if (Date.parse(sentAt) > now + SENT_AT_MAX_AHEAD_MS) {
    return `sentAt ${sentAt} is in the future (more than ${SENT_AT_MAX_AHEAD_MS / 60_000} minutes ahead)`;
  }
  return undefined;
}

/**
 * `now` is the caller's clock: the API's, or the workflow's (deterministic, the time of the workflow task).
 */
export function checkMessage(
  msg: { messageId?: unknown; content?: unknown; sentAt?: unknown },
  policy: Pick<ConversationPolicy, 'maxContentBytes'>,
  now: number = Date.now(),
): Rejection | undefined {
  if (msg.messageId !== undefined && (typeof msg.messageId !== 'string' || !ID_PATTERN.test(msg.messageId))) {
    return { type: FailureTypes.invalidMessage, message: 'messageId must match [A-Za-z0-9._-]{1,128}' };
  }
  if (typeof msg.content !== 'string' || msg.content.trim() === '') {
    return { type: FailureTypes.invalidMessage, message: 'content must be a non-empty string' };
  }
  if (hasInvalidText(msg.content)) {
    return { type: FailureTypes.invalidMessage, message: 'content must be valid UTF-8 text without NUL characters' };
  }
  const bytes = utf8Length(msg.content);
  if (bytes > policy.maxContentBytes) {
    return {
      type: FailureTypes.contentTooLarge,
      message: `content is ${bytes} bytes; the limit is ${policy.maxContentBytes}`,
    };
  }
  const badSentAt = msg.sentAt === undefined ? undefined : checkSentAt(msg.sentAt, now);
  if (badSentAt) return { type: FailureTypes.invalidMessage, message: badSentAt };
  return undefined;
}
