/**
 * AES-256-GCM sealing with node:crypto. A sealed box is `iv (12) | tag (16) | ciphertext`; the associated data is
 * not stored but must be given again to open it, which is how a ciphertext is bound to its key id and purpose.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Key length of AES-256. */
export const KEY_BYTES = 32;

/** The name recorded next to every ciphertext, so a future cipher can coexist with this one. */
export const CIPHER_NAME = 'AES-256-GCM';

/** Encrypts and authenticates `plaintext`; `aad` is authenticated but not encrypted. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Buffer {
  // A random 96-bit IV per message: with at most billions of messages per data key, collisions stay negligible.
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** The plaintext of a sealed box, or undefined when it fails authentication (wrong key, aad, or any changed byte). */
export function open(key: Uint8Array, sealed: Uint8Array, aad: string): Buffer | undefined {
  if (sealed.length < IV_BYTES + TAG_BYTES) return undefined;
  const box = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(box.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(box.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
