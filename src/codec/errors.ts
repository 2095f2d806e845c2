/**
 * What encryption can fail with. Each error names the key id it concerns and never carries key material or
 * plaintext, so it is safe to log and to return to an operator.
 */

/** Master-key configuration is missing or invalid, or a stored data key names a master key that is not configured. */
export class KeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyConfigError';
  }
}

/** A ciphertext names a key id that was never issued here (another deployment's data, or a corrupted id). */
export class UnknownKeyError extends Error {
  constructor(readonly keyId: string) {
    super(`unknown encryption key id "${keyId}": it was never issued by this key store`);
    this.name = 'UnknownKeyError';
  }
}

/** A ciphertext failed authentication: it, its key id or its associated data was changed after encryption. */
export class TamperedCiphertextError extends Error {
  constructor(readonly keyId: string) {
    super(`ciphertext under key "${keyId}" failed authentication (tampered, truncated or moved)`);
    this.name = 'TamperedCiphertextError';
  }
}

/**
 * The key was destroyed (crypto-shredding): what it encrypted is gone for good. The payload codec turns this into
 * an "erased" marker instead of throwing; text decryption throws it so the storage layer decides what to show.
 */
export class KeyDestroyedError extends Error {
  constructor(readonly keyId: string) {
    super(`encryption key "${keyId}" was destroyed: the data it protected is erased`);
    this.name = 'KeyDestroyedError';
  }
}

/**
 * With per-user keys, a conversation payload whose owner cannot be found (no conversation row): sealing it under
 * the tenant key instead would let it survive the user's erasure, so encoding refuses.
 */
export class OwnerUnknownError extends Error {
  constructor(
    readonly tenantId: string,
    readonly conversationId: string,
  ) {
    super(
      `no owner known for conversation ${tenantId}/${conversationId}: with MEMOIR_KEY_SCOPE=user its row must ` +
        'exist before its workflow is started (MemoirClient creates it)',
    );
    this.name = 'OwnerUnknownError';
  }
}

/** Stored text of one tenant names a key of another scope: copied or forged, never opened. */
export class ForeignKeyError extends Error {
  constructor(
    readonly keyId: string,
    readonly tenantId: string,
  ) {
    super(`text stored for tenant "${tenantId}" names key "${keyId}" of another scope; refused`);
    this.name = 'ForeignKeyError';
  }
}
