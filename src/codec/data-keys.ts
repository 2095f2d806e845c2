/**
 * Data keys: one random AES-256 key per scope and version, stored in PostgreSQL (`data_keys`) only in wrapped form
 * (sealed with a master key). Temporal histories are immutable, so destroying a scope's data keys is the only way
 * to erase what they encrypted there (crypto-shredding).
 *
 * Erasure is as complete as the copies of the wrapped key are gone: the row is cleared at once, but PostgreSQL
 * keeps the old tuple until VACUUM, and WAL archives and backups keep it for their retention. Those copies only
 * open with the master key that wrapped them, so rotate the master key, `rewrapAll()`, and retire the old master
 * key once no backup taken before the erasure is kept.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Db } from '../storage/db';
import { ID_PATTERN } from '../../workflows/contract';
import { KEY_BYTES, open, seal } from './aes-gcm';
import type { ErasureWatch } from './erasure-watch';
import { KeyConfigError, TamperedCiphertextError, UnknownKeyError } from './errors';
import type { MasterKeyRing } from './master-keys';
import { keyIdOf, parseKeyId, scopeName, type KeyScope } from './scope';

export interface DataKeyStoreOptions {
  /**
   * How long an unwrapped data key (and a scope's current key id) stays in this process's memory. Destroying a
   * scope evicts it here at once; other processes stop using it within this time, or within the bound of
   * `erasures` when they watch them (as `openEncryption` sets up). Default 60 s.
   */
  cacheTtlMs?: number;
  /** Most data keys kept unwrapped in memory. Default 10,000. */
  cacheMax?: number;
  /**
   * Erasures recorded by other processes: a key of an erased tenant or user is evicted within the watch's bound,
   * well before `cacheTtlMs`. Without it, only this process's own `destroyScope` evicts.
   */
  erasures?: ErasureWatch;
}

/** A usable data key and its id. */
export interface DataKey {
  keyId: string;
  key: Buffer;
}

/** A data key as stored, without its material. */
export interface DataKeyInfo {
  keyId: string;
  masterKeyId: string | null;
  createdAt: Date;
  destroyedAt: Date | null;
}

/** What `keyFor` returns for a key destroyed by `destroyScope`. */
export const DESTROYED = 'destroyed' as const;

interface KeyRow {
  scope: string;
  version: number;
  wrapped: string | null;
  master_key_id: string | null;
}

// Binds a wrapped key to its id and wrapping key: a wrapped key copied onto another row does not open.
const wrapAad = (keyId: string, masterKeyId: string) => `memoir/data-key/v1|${keyId}|${masterKeyId}`;
const REWRAP_BATCH = 500;

export class DataKeyStore {
  private readonly keys: LRUCache<string, Buffer | typeof DESTROYED>;
  private readonly current: LRUCache<string, DataKey>;
  private readonly inflight = new Map<string, Promise<unknown>>();
  // Bumped by every destruction: a lookup that started before it must not cache what it read.
  private generation = 0;

  private readonly erasures: ErasureWatch | undefined;

  constructor(
    private readonly db: Db,
    private readonly masterKeys: MasterKeyRing,
    opts: DataKeyStoreOptions = {},
  ) {
    const ttl = opts.cacheTtlMs ?? 60_000;
    const max = opts.cacheMax ?? 10_000;
    this.keys = new LRUCache({ max, ttl });
    this.current = new LRUCache({ max, ttl });
    this.erasures = opts.erasures;
    // A conversation's erasure destroys no key; a user's or a tenant's does.
    this.erasures?.onErasure((erased) => {
      if (erased.conversationId !== undefined) return;
      const { tenantId, userId } = erased;
      // An id no scope could have (never issued a key) has nothing to evict.
      if (ID_PATTERN.test(tenantId) && (userId === undefined || ID_PATTERN.test(userId)))
        this.evict(scopeName({ tenantId, userId }));
    });
  }

  /** The key new data of `scope` is encrypted with: its newest version, created if it has none (or it was destroyed). */
  async currentKey(scope: KeyScope): Promise<DataKey> {
    const name = scopeName(scope);
    await this.erasures?.fresh();
    const cached = this.current.get(name);
    if (cached) return cached;
    return this.once(`current:${name}`, async () => {
      const generation = this.generation;
      for (let attempt = 0; attempt < 5; attempt++) {
        const [newest] = await this.db.query<KeyRow>(
          'SELECT scope, version, wrapped, master_key_id FROM data_keys WHERE scope = $1 ORDER BY version DESC LIMIT 1',
          [name],
        );
        if (newest?.wrapped) {
          const key = { keyId: keyIdOf(name, newest.version), key: this.unwrap(newest) };
          if (generation === this.generation) {
            this.current.set(name, key);
            this.keys.set(key.keyId, key.key);
          }
          return key;
        }
        // Another process may insert the same version first; then the next round reads its key.
        await this.insert(name, (newest?.version ?? 0) + 1);
      }
      throw new Error(`could not create a data key for scope ${name} (contention)`);
    });
  }

  /** The key with this id, or DESTROYED. Throws UnknownKeyError for an id never issued here. */
  async keyFor(keyId: string): Promise<Buffer | typeof DESTROYED> {
    await this.erasures?.fresh();
    const cached = this.keys.get(keyId);
    if (cached) return cached;
    const parsed = parseKeyId(keyId);
    if (!parsed) throw new UnknownKeyError(keyId);
    return this.once(`key:${keyId}`, async () => {
      const generation = this.generation;
      const [row] = await this.db.query<KeyRow>(
        'SELECT scope, version, wrapped, master_key_id FROM data_keys WHERE scope = $1 AND version = $2',
        [parsed.scope, parsed.version],
      );
      if (!row) throw new UnknownKeyError(keyId);
      const key = row.wrapped ? this.unwrap(row) : DESTROYED;
      if (generation === this.generation) this.keys.set(keyId, key);
      return key;
    });
  }

  /** Starts a new version for `scope`: new data uses it, older versions still decrypt. Returns the new key id. */
  async rotateScope(scope: KeyScope): Promise<string> {
    const name = scopeName(scope);
    const [newest] = await this.db.query<{ version: number }>(
      'SELECT max(version) AS version FROM data_keys WHERE scope = $1',
      [name],
    );
    await this.insert(name, (newest?.version ?? 0) + 1);
    this.current.delete(name);
    return (await this.currentKey(scope)).keyId;
  }

  /**
   * Destroys every key version of a tenant (with its users' keys) or of one user: whatever they encrypted can no
   * longer be decrypted anywhere. Returns how many key versions were destroyed (0 when none existed). New data of
   * the scope gets a fresh key.
   */
  async destroyScope(scope: Exclude<KeyScope, 'system'>): Promise<number> {
    const name = scopeName(scope);
    const rows = await this.db.query<{ scope: string; version: number }>(
      `UPDATE data_keys SET wrapped = NULL, master_key_id = NULL, destroyed_at = now()
        WHERE (scope = $1 OR starts_with(scope, $2)) AND destroyed_at IS NULL
        RETURNING scope, version`,
      [name, `${name}/`],
    );
    this.evict(name);
    for (const r of rows) this.keys.set(keyIdOf(r.scope, r.version), DESTROYED);
    return rows.length;
  }

  /**
   * Forgets every cached key of a scope and its sub-scopes (a tenant's users), and what lookups in flight would
   * cache: the next use reads the database, which says whether the key is still there.
   */
  private evict(name: string): void {
    this.generation++;
    this.inflight.clear();
    const covered = (s: string) => s === name || s.startsWith(`${name}/`);
    for (const keyId of [...this.keys.keys()]) if (covered(parseKeyId(keyId)?.scope ?? '')) this.keys.delete(keyId);
    for (const s of [...this.current.keys()]) if (covered(s)) this.current.delete(s);
  }

  /**
   * Re-wraps every live data key not yet wrapped by the current master key; returns how many it re-wrapped. The
   * data keys themselves do not change, so nothing encrypted with them needs rewriting. Safe to run from several
   * processes at once. Needs every master key still named by a stored data key.
   */
  async rewrapAll(): Promise<number> {
    const master = this.masterKeys.current;
    let count = 0;
    for (;;) {
      const rows = await this.db.query<KeyRow>(
        `SELECT scope, version, wrapped, master_key_id FROM data_keys
          WHERE destroyed_at IS NULL AND master_key_id <> $1 ORDER BY scope, version LIMIT $2`,
        [master.id, REWRAP_BATCH],
      );
      if (rows.length === 0) return count;
      for (const row of rows) {
        const keyId = keyIdOf(row.scope, row.version);
        const wrapped = seal(master.key, this.unwrap(row), wrapAad(keyId, master.id)).toString('base64');
        // Guarded by the old master id: a row destroyed or re-wrapped meanwhile is left alone.
        const updated = await this.db.query(
          `UPDATE data_keys SET wrapped = $3, master_key_id = $4
            WHERE scope = $1 AND version = $2 AND master_key_id = $5 AND destroyed_at IS NULL RETURNING 1`,
          [row.scope, row.version, wrapped, master.id, row.master_key_id],
        );
        count += updated.length;
      }
    }
  }

  /** Every key version of a scope (and of its users, for a tenant), oldest first, without key material. */
  async list(scope: KeyScope): Promise<DataKeyInfo[]> {
    const name = scopeName(scope);
    const rows = await this.db.query<KeyRow & { created_at: Date; destroyed_at: Date | null }>(
      `SELECT scope, version, master_key_id, created_at, destroyed_at FROM data_keys
        WHERE scope = $1 OR starts_with(scope, $2) ORDER BY scope, version`,
      [name, `${name}/`],
    );
    return rows.map((r) => ({
      keyId: keyIdOf(r.scope, r.version),
      masterKeyId: r.master_key_id,
      createdAt: r.created_at,
      destroyedAt: r.destroyed_at,
    }));
  }

  private async insert(scope: string, version: number): Promise<void> {
    const master = this.masterKeys.current;
    const keyId = keyIdOf(scope, version);
    const wrapped = seal(master.key, randomBytes(KEY_BYTES), wrapAad(keyId, master.id)).toString('base64');
    await this.db.query(
      `INSERT INTO data_keys (scope, version, wrapped, master_key_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (scope, version) DO NOTHING`,
      [scope, version, wrapped, master.id],
    );
  }

  private unwrap(row: KeyRow): Buffer {
    const keyId = keyIdOf(row.scope, row.version);
    const masterId = row.master_key_id ?? '';
    const master = this.masterKeys.get(masterId);
    if (!master) {
      throw new KeyConfigError(
        `data key ${keyId} is wrapped by master key "${masterId}", which is not configured ` +
          '(add it to MEMOIR_MASTER_KEYS or the key file until rewrapAll() has moved every key)',
      );
    }
    const key = open(master, Buffer.from(row.wrapped ?? '', 'base64'), wrapAad(keyId, masterId));
    if (key?.length !== KEY_BYTES) throw new TamperedCiphertextError(keyId);
    return key;
  }

  /** Runs `work` once for concurrent callers with the same key (a burst of payloads for a new scope). */
  private once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const started: Promise<T> = work().finally(() => {
      if (this.inflight.get(key) === started) this.inflight.delete(key);
    });
    this.inflight.set(key, started);
    return started;
  }
}
