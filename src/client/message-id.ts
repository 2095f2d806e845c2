import { randomBytes } from 'node:crypto';

/**
 * A new message id: 96 random bits in base64url, 16 characters (a UUID is 36). A message's id is written into
 * history several times a turn (the update's id three times, its completion, the model call's input; a reply's id
 * in the call's result and the update's), so a short one keeps ~140 B a turn out of history. It fits `ID_PATTERN`,
 * and 96 bits make a collision within one conversation, where ids must be unique, negligible.
 */
export const newMessageId = (): string => randomBytes(12).toString('base64url');
