/**
 * API keys in PostgreSQL, stored as SHA-256 digests: `memoir keys create` prints a key once and keeps only its
 * digest. Lookups are cached briefly, so a revoked key stops working within the cache TTL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { checkTenantId, type ApiKeyResolver } from '../api/auth';
import type { Db } from '../storage/db';
import { ErasureTombstones } from './tombstones';

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

export interface ApiKeyInfo {
  keyId: string;
  tenantId: string;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export class ApiKeyStore {
  constructor(private readonly db: Db) {}

  /** Creates a key for a tenant; the key itself is returned here and never again. */
  async create(tenantId: string, label?: string): Promise<{ keyId: string; key: string }> {
    checkTenantId(tenantId);
    const keyId = `key_${randomBytes(6).toString('hex')}`;
    const key = `mk_${randomBytes(24).toString('base64url')}`;
    await this.db.query('INSERT INTO api_keys (key_id, tenant_id, digest, label) VALUES ($1, $2, $3, $4)', [
      keyId,
      tenantId,
      digest(key),
      label ?? null,
    ]);
    return { keyId, key };
  }

  async list(tenantId?: string): Promise<ApiKeyInfo[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT key_id, tenant_id, label, created_at, revoked_at FROM api_keys
        WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY created_at`,
      [tenantId ?? null],
    );
    return rows.map((r) => ({
      keyId: r.key_id as string,
      tenantId: r.tenant_id as string,
      label: r.label as string | null,
      createdAt: r.created_at as Date,
      revokedAt: r.revoked_at as Date | null,
    }));
  }

  async revoke(keyId: string): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING 1',
      [keyId],
    );
    return rows.length === 1;
  }

  /** Whether the tenant was erased (its tombstone refuses keys that cannot be revoked in the database). */
  async tenantErased(tenantId: string): Promise<boolean> {
    return new ErasureTombstones(this.db).tenantErased(tenantId);
  }

  /** A stored key's label, else its id. */
  async nameOf(key: string): Promise<string | undefined> {
    const rows = await this.db.query<{ key_id: string; label: string | null }>(
      'SELECT key_id, label FROM api_keys WHERE digest = $1 AND revoked_at IS NULL',
      [digest(key)],
    );
    return rows[0] ? (rows[0].label ?? rows[0].key_id) : undefined;
  }

  async tenantOf(key: string): Promise<string | undefined> {
    const rows = await this.db.query<{ tenant_id: string }>(
      'SELECT tenant_id FROM api_keys WHERE digest = $1 AND revoked_at IS NULL',
      [digest(key)],
    );
    return rows[0]?.tenant_id;
  }
}

/**
 * Keys from configuration (bootstrap and tests), then from the database, with a short positive and negative cache.
 * A configured key cannot be revoked by a database update: it is refused once its tenant has been erased.
 */
export class CombinedApiKeys implements ApiKeyResolver {
  private readonly cache = new LRUCache<string, { tenant: string | null }>({ max: 10_000, ttl: 30_000 });

  constructor(
    private readonly store: ApiKeyStore,
    private readonly configured: ApiKeyResolver,
  ) {}

  async resolve(key: string): Promise<string | undefined> {
    const id = digest(key);
    const cached = this.cache.get(id);
    if (cached) return cached.tenant ?? undefined;
    const configured = await this.configured.resolve(key);
    const tenant =
      configured === undefined
        ? await this.store.tenantOf(key)
        : (await this.store.tenantErased(configured))
          ? undefined
          : configured;
    this.cache.set(id, { tenant: tenant ?? null });
    return tenant;
  }

  async name(key: string): Promise<string | undefined> {
    return (await this.configured.name?.(key)) ?? this.store.nameOf(key);
  }
}
