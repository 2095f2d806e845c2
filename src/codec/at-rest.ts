/**
 * Application-level encryption of text stored in PostgreSQL (message content), with the same scoped data keys as
 * the payload codec, so erasing a scope also erases its rows wherever they were copied (replicas, dumps).
 *
 * Format: `memoir-enc:v1:<keyId>:<base64url(iv | tag | ciphertext)>`, self-describing: a reader needs no other
 * column to find the key. Text without the prefix is returned unchanged by `decryptText`, so rows written before
 * encryption was turned on stay readable.
 */
import { CIPHER_NAME, open, seal } from './aes-gcm';
import { DESTROYED, type DataKeyStore } from './data-keys';
import { KeyConfigError, KeyDestroyedError, TamperedCiphertextError } from './errors';
import type { KeyScope } from './scope';

export const TEXT_PREFIX = 'memoir-enc:v1:';

// `v1` means AES-256-GCM; the purpose is authenticated so a payload ciphertext cannot be passed off as text.
const textAad = (keyId: string) => `memoir/text/v1|${CIPHER_NAME}|${keyId}`;

export interface TextCipher {
  /** Whether `encryptText` encrypts (MEMOIR_ENCRYPT_AT_REST); decryption works either way. */
  readonly enabled: boolean;
  /** The stored form of `plaintext` for `scope`: encrypted when enabled, else unchanged. */
  encryptText(scope: KeyScope, plaintext: string): Promise<string>;
  /**
   * The plaintext of a stored value. Throws KeyDestroyedError when its scope was erased (the caller shows it as
   * erased), UnknownKeyError or TamperedCiphertextError when it cannot be trusted.
   */
  decryptText(stored: string): Promise<string>;
}

export function isEncryptedText(stored: string): boolean {
  return stored.startsWith(TEXT_PREFIX);
}

/** A text cipher over `keys`; without keys (encryption not configured) it can only pass plaintext through. */
export function createTextCipher(keys: DataKeyStore | undefined, opts: { enabled: boolean }): TextCipher {
  if (opts.enabled && !keys)
    throw new KeyConfigError('MEMOIR_ENCRYPT_AT_REST needs master keys (MEMOIR_MASTER_KEYS or MEMOIR_MASTER_KEY_FILE)');
  return {
    enabled: opts.enabled,
    async encryptText(scope, plaintext) {
      if (!opts.enabled || !keys) return plaintext;
      const { keyId, key } = await keys.currentKey(scope);
      return `${TEXT_PREFIX}${keyId}:${seal(key, Buffer.from(plaintext, 'utf8'), textAad(keyId)).toString('base64url')}`;
    },
    async decryptText(stored) {
      if (!isEncryptedText(stored)) return stored;
      if (!keys) throw new KeyConfigError('encrypted text found but no master keys are configured');
      const rest = stored.slice(TEXT_PREFIX.length);
      const colon = rest.lastIndexOf(':');
      const keyId = colon < 0 ? rest : rest.slice(0, colon);
      const key = await keys.keyFor(keyId);
      if (key === DESTROYED) throw new KeyDestroyedError(keyId);
      const plain = colon < 0 ? undefined : open(key, Buffer.from(rest.slice(colon + 1), 'base64url'), textAad(keyId));
      if (!plain) throw new TamperedCiphertextError(keyId);
      return plain.toString('utf8');
    },
  };
}
