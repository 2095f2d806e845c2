/**
 * Application-level encryption of text stored in PostgreSQL (message content), with the same scoped data keys as
 * the payload codec, so erasing a scope also erases its rows wherever they were copied (replicas, dumps).
 *
 * Format: `memoir-enc:v2:<keyId>:<base64url(iv | tag | ciphertext)>`, self-describing: a reader needs no other
 * column to find the key. The tenant of the row is authenticated with it (AAD), and a reader refuses a key id
 * outside that tenant's scope: ciphertext copied into another tenant's row does not open there. `v1` values
 * (before the tenant was bound) are still read, with the same scope check. Text without the prefix is returned
 * unchanged by `decryptText`, so rows written before encryption was turned on stay readable.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { CIPHER_NAME, open, seal } from './aes-gcm';
import { DESTROYED, type DataKeyStore } from './data-keys';
import { ForeignKeyError, KeyConfigError, KeyDestroyedError, TamperedCiphertextError } from './errors';
import { parseKeyId, scopeName, type KeyScope } from './scope';

export const TEXT_PREFIX = 'memoir-enc:v2:';
const V1_PREFIX = 'memoir-enc:v1:';

// AES-256-GCM; the purpose is authenticated so a payload ciphertext cannot be passed off as text, and (v2) the
// tenant whose row holds the text.
const textAad = (keyId: string, tenantId: string | undefined) =>
  tenantId === undefined
    ? `memoir/text/v1|${CIPHER_NAME}|${keyId}`
    : `memoir/text/v2|${CIPHER_NAME}|${keyId}|${tenantId}`;

export interface TextCipher {
  /** Whether `encryptText` encrypts (MEMOIR_ENCRYPT_AT_REST); decryption works either way. */
  readonly enabled: boolean;
  /** The stored form of `plaintext` for `scope`: encrypted when enabled, else unchanged. */
  encryptText(scope: KeyScope, plaintext: string): Promise<string>;
  /**
   * The plaintext of a value stored in a row of `tenantId`. Throws KeyDestroyedError when its scope was erased
   * (the caller shows it as erased), ForeignKeyError when it names a key outside the tenant, UnknownKeyError or
   * TamperedCiphertextError when it cannot be trusted.
   */
  decryptText(stored: string, tenantId: string): Promise<string>;
  /**
   * A keyed digest of `plaintext` under the scope's current data key (HMAC-SHA256 with a key derived from it), to
   * name a stored text without a content hash: equal texts of different scopes get unrelated digests, and nobody
   * without the key can confirm a guess. Throws when no keys are configured.
   */
  digestText(scope: KeyScope, plaintext: string): Promise<string>;
}

export function isEncryptedText(stored: string): boolean {
  return stored.startsWith(TEXT_PREFIX) || stored.startsWith(V1_PREFIX);
}

/** Whether a key id belongs to the tenant's scope or one of its users'. */
function inTenant(keyId: string, tenantId: string): boolean {
  const scope = parseKeyId(keyId)?.scope;
  const tenantScope = scopeName({ tenantId });
  return scope === tenantScope || (scope?.startsWith(`${tenantScope}/`) ?? false);
}

/** A text cipher over `keys`; without keys (encryption not configured) it can only pass plaintext through. */
export function createTextCipher(keys: DataKeyStore | undefined, opts: { enabled: boolean }): TextCipher {
  if (opts.enabled && !keys)
    throw new KeyConfigError('MEMOIR_ENCRYPT_AT_REST needs master keys (MEMOIR_MASTER_KEYS or MEMOIR_MASTER_KEY_FILE)');
  return {
    enabled: opts.enabled,
    async encryptText(scope, plaintext) {
      if (!opts.enabled || !keys) return plaintext;
      if (scope === 'system') throw new Error('text at rest is sealed under a tenant or user scope, not system');
      const { keyId, key } = await keys.currentKey(scope);
      const sealed = seal(key, Buffer.from(plaintext, 'utf8'), textAad(keyId, scope.tenantId));
      return `${TEXT_PREFIX}${keyId}:${sealed.toString('base64url')}`;
    },
    async decryptText(stored, tenantId) {
      if (!isEncryptedText(stored)) return stored;
      if (!keys) throw new KeyConfigError('encrypted text found but no master keys are configured');
      const v1 = stored.startsWith(V1_PREFIX);
      const rest = stored.slice(TEXT_PREFIX.length);
      const colon = rest.lastIndexOf(':');
      const keyId = colon < 0 ? rest : rest.slice(0, colon);
      // Checked before the key is fetched: a row never makes this process open another tenant's key.
      if (!inTenant(keyId, tenantId)) throw new ForeignKeyError(keyId, tenantId);
      const key = await keys.keyFor(keyId);
      if (key === DESTROYED) throw new KeyDestroyedError(keyId);
      const aad = textAad(keyId, v1 ? undefined : tenantId);
      const plain = colon < 0 ? undefined : open(key, Buffer.from(rest.slice(colon + 1), 'base64url'), aad);
      if (!plain) throw new TamperedCiphertextError(keyId);
      return plain.toString('utf8');
    },
    async digestText(scope, plaintext) {
      if (!keys) throw new KeyConfigError('a keyed digest needs master keys');
      if (scope === 'system') throw new Error('text digests are keyed by a tenant or user scope, not system');
      const { key } = await keys.currentKey(scope);
      // A separate key for the MAC: the data key itself only ever encrypts.
      const macKey = Buffer.from(hkdfSync('sha256', key, '', 'memoir/text-digest/v1', 32));
      return createHmac('sha256', macKey).update(plaintext, 'utf8').digest('hex');
    },
  };
}
