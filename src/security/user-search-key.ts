/**
 * What the `UserId` search attribute holds: a keyed hash of the user id, never the id. Visibility stores search
 * attributes in plaintext (the payload codec does not reach them) and keeps them as long as the execution, so a
 * plaintext id there would outlive a user's erasure wherever visibility data is copied. Lookups by user still
 * work: the same key hashes the id a caller asks for. No memo carries the id either: memos are not sealed by the
 * payload codec.
 */
import { createHmac } from 'node:crypto';

/** Maps a tenant's user id to the value of its `UserId` search attribute. */
export type UserSearchKey = (tenantId: string, userId: string) => string;

/** A keyed hash under `key` (MEMOIR_REDACT_KEY or the data directory's key: the same in every process). */
export function userSearchKeyFrom(key: string): UserSearchKey {
  return (tenantId, userId) =>
    `u-${createHmac('sha256', key).update(`memoir/user-search/v1|${tenantId}|${userId}`).digest('hex').slice(0, 40)}`;
}
