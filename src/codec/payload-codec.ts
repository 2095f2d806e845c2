/**
 * The Temporal payload codec: every payload leaving a client or worker is sealed with its owner's data key, so
 * workflow histories hold ciphertext only. Used on both sides, and by the codec server for the Temporal UI.
 *
 * An encrypted payload is `{ metadata: { encoding: binary/encrypted, encryption-key-id: <scope>@<version> }, data:
 * seal(original payload as protobuf) }`; the original metadata travels inside the ciphertext. Decoding needs only
 * the key id, never the workflow context. The cipher is AES-256-GCM; payloads written before it was left out name it
 * in `encryption-cipher` (~35 B per payload, ~8 payloads per turn in history), which decoding still checks.
 */
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { LRUCache } from 'lru-cache';
import { ID_PATTERN } from '../../workflows/contract';
import { randomBytes } from 'node:crypto';
import { CIPHER_NAME, KEY_BYTES, open, seal } from './aes-gcm';
import { DESTROYED, type DataKeyStore } from './data-keys';
import type { ErasureWatch } from './erasure-watch';
import { OwnerUnknownError, TamperedCiphertextError, UnknownKeyError } from './errors';
import { conversationOfWorkflowId, SYSTEM_SCOPE, type KeyScope } from './scope';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_ENCODING = 'encoding';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_CIPHER = 'encryption-cipher';

/** What an erased payload decodes to: a JSON value workflows, the UI and tools can recognise. */
export interface ErasedMarker {
  memoirErased: true;
  keyId: string;
}

/**
 * The owner of a conversation, or undefined when it has no row. With `user` scope an unknown owner is an error,
 * never a reason to use the tenant key: erasing the user would then leave that payload readable. Callers create
 * the conversation row before its workflow's first payload is encoded (MemoirClient does).
 */
export type UserResolver = (
  tenantId: string,
  conversationId: string,
) => Promise<string | typeof ERASED_OWNER | undefined>;

/** What a resolver answers for a conversation that has been erased (its row is gone, its tombstone is not). */
export const ERASED_OWNER = Symbol('erased owner');

/**
 * Key id of payloads of an erased conversation that its workflow or activities still produce while they are
 * being stopped: sealed under a random key that is never stored, so they are born erased.
 */
export const DISCARDED_KEY_ID = 'discarded';

export interface EncryptionCodecOptions {
  keys: DataKeyStore;
  /** `tenant` (default): one key per tenant. `user`: one key per tenant and user, so a user can be erased alone. */
  keyScope?: 'tenant' | 'user';
  /** Required for `user` scope: maps a conversation to its user (the app reads the conversations table). */
  resolveUser?: UserResolver;
  /**
   * How long a resolved conversation owner is remembered. Default 10 min. An owner changes only when the
   * conversation is erased and its id reused: erasure calls `forgetOwners` in its own process, and other processes
   * forget it when `erasures` shows them the erasure.
   */
  userCacheTtlMs?: number;
  /**
   * Erasures recorded by any process (docs/operations.md): a remembered owner of an erased conversation, user or
   * tenant is forgotten within the watch's bound. Without it, other processes keep it up to `userCacheTtlMs`.
   */
  erasures?: ErasureWatch;
}

const utf8 = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);
const bytes = (text: string) => Buffer.from(text, 'utf8');
// The purpose is authenticated with the key id: a payload ciphertext cannot be replayed as an at-rest text.
const payloadAad = (keyId: string) => `memoir/payload/v1|${keyId}`;

export class EncryptionCodec implements PayloadCodec {
  private readonly keys: DataKeyStore;
  private readonly keyScope: 'tenant' | 'user';
  private readonly resolveUser: UserResolver | undefined;
  private readonly owners: LRUCache<string, string>;
  private readonly erasures: ErasureWatch | undefined;

  constructor(opts: EncryptionCodecOptions) {
    this.keys = opts.keys;
    this.keyScope = opts.keyScope ?? 'tenant';
    this.resolveUser = opts.resolveUser;
    if (this.keyScope === 'user' && !this.resolveUser)
      throw new Error('EncryptionCodec: keyScope "user" needs a resolveUser function');
    this.owners = new LRUCache({ max: 100_000, ttl: opts.userCacheTtlMs ?? 600_000 });
    this.erasures = opts.erasures;
    this.erasures?.onErasure(({ tenantId, userId, conversationId }) =>
      this.forgetOwners(
        tenantId,
        userId !== undefined ? { userId } : conversationId !== undefined ? { conversationId } : {},
      ),
    );
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    if (payloads.length === 0) return payloads;
    const scope = await this.scopeFor(context);
    const { keyId, key } =
      scope === ERASED_OWNER
        ? { keyId: DISCARDED_KEY_ID, key: randomBytes(KEY_BYTES) }
        : await this.keys.currentKey(scope);
    return payloads.map((payload) =>
      // Already sealed (a payload passed through untouched): sealing twice would hide it from a single decode.
      isEncrypted(payload)
        ? payload
        : {
            metadata: {
              [METADATA_ENCODING]: bytes(ENCRYPTED_ENCODING),
              [METADATA_KEY_ID]: bytes(keyId),
            },
            data: seal(key, temporal.api.common.v1.Payload.encode(payload).finish(), payloadAad(keyId)),
          },
    );
  }

  /**
   * Opens sealed payloads; others pass through. A destroyed key yields the erased marker instead of failing, so
   * an erased conversation never breaks anything else; an unknown key id or a changed byte throws.
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.decodeOne(payload)));
  }

  /** The scope whose key encrypts payloads of this workflow or activity; `system` when it is no conversation. */
  async scopeFor(context?: SerializationContext): Promise<KeyScope | typeof ERASED_OWNER> {
    const conversation = context?.workflowId ? conversationOfWorkflowId(context.workflowId) : undefined;
    if (!conversation) return SYSTEM_SCOPE;
    const { tenantId, conversationId } = conversation;
    if (this.keyScope === 'tenant' || !this.resolveUser) return { tenantId };
    const cacheKey = `${tenantId}/${conversationId}`;
    await this.erasures?.fresh();
    let userId = this.owners.get(cacheKey);
    if (userId === undefined) {
      // A failing lookup throws rather than falling back: the user's words must not land under the tenant key
      // just because the database blinked. Temporal retries the task.
      const owner = await this.resolveUser(tenantId, conversationId);
      // Erased while its workflow or activities were still finishing: nothing may be readable (and throwing
      // here would fail the worker, which cannot complete a task whose payloads it cannot encode).
      if (owner === ERASED_OWNER) return ERASED_OWNER;
      userId = owner;
      // No silent fallback to the tenant key: that payload would survive the user's erasure. Temporal retries
      // the task (a worker) or the caller sees the error (a client), and the cause is in the message.
      if (userId === undefined || !ID_PATTERN.test(userId)) throw new OwnerUnknownError(tenantId, conversationId);
      this.owners.set(cacheKey, userId);
    }
    return { tenantId, userId };
  }

  /**
   * Forgets remembered owners of a tenant's conversation, of every conversation of a user, or of the whole tenant:
   * erasure calls it, so a conversation id reused after erasure is sealed under its new owner's key.
   */
  forgetOwners(tenantId: string, match: { conversationId?: string; userId?: string } = {}): void {
    for (const [cacheKey, userId] of this.owners.entries()) {
      const [tenant, conversation] = [
        cacheKey.slice(0, cacheKey.indexOf('/')),
        cacheKey.slice(cacheKey.indexOf('/') + 1),
      ];
      if (tenant !== tenantId) continue;
      if (match.conversationId !== undefined && conversation !== match.conversationId) continue;
      if (match.userId !== undefined && userId !== match.userId) continue;
      this.owners.delete(cacheKey);
    }
  }

  private async decodeOne(payload: Payload): Promise<Payload> {
    if (!isEncrypted(payload)) return payload;
    const keyId = utf8(payload.metadata?.[METADATA_KEY_ID]) ?? '';
    if (keyId === DISCARDED_KEY_ID) return erasedPayload(keyId);
    const cipher = utf8(payload.metadata?.[METADATA_CIPHER]) ?? CIPHER_NAME;
    if (cipher !== CIPHER_NAME) throw new Error(`payload under key "${keyId}" uses unsupported cipher "${cipher}"`);
    const key = await this.keys.keyFor(keyId);
    if (key === DESTROYED) return erasedPayload(keyId);
    const plain = open(key, payload.data ?? new Uint8Array(), payloadAad(keyId));
    if (!plain) throw new TamperedCiphertextError(keyId);
    try {
      return temporal.api.common.v1.Payload.decode(plain);
    } catch {
      // Authentic but not a payload: sealed by something else with this key, which this store never does.
      throw new UnknownKeyError(keyId);
    }
  }
}

export function isEncrypted(payload: Payload): boolean {
  return utf8(payload.metadata?.[METADATA_ENCODING]) === ENCRYPTED_ENCODING;
}

/** The JSON payload an erased payload decodes to. */
export function erasedPayload(keyId: string): Payload {
  const marker: ErasedMarker = { memoirErased: true, keyId };
  return { metadata: { [METADATA_ENCODING]: bytes('json/plain') }, data: bytes(JSON.stringify(marker)) };
}

/** True for a value decoded from an erased payload. */
export function isErasedMarker(value: unknown): value is ErasedMarker {
  return typeof value === 'object' && value !== null && (value as { memoirErased?: unknown }).memoirErased === true;
}
