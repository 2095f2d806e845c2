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

export function checkMessage(
  msg: { messageId?: unknown; content?: unknown },
  policy: Pick<ConversationPolicy, 'maxContentBytes'>,
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
  return undefined;
}
