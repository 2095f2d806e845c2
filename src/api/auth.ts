/**
 * Bearer API keys, each mapped to one tenant. Keys are compared by SHA-256 digest in constant time, so neither
 * timing nor a memory dump of the table reveals a key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isValidId } from '../../workflows/contract';

export interface ApiKeyResolver {
  /** The tenant a key belongs to, or undefined. */
  resolve(key: string): Promise<string | undefined>;
  /** A name for the key that people recognise (recorded as who approved a tool call), without revealing it. */
  name?(key: string): Promise<string | undefined>;
}

/**
 * A tenant id is validated like every other id: every key, workflow id and key scope is built from it, so an
 * empty or odd one would put callers into a tenant nobody created (or share one between callers).
 */
export function checkTenantId(tenantId: string): string {
  if (!isValidId(tenantId)) throw new InvalidTenantIdError(tenantId);
  return tenantId;
}

export class InvalidTenantIdError extends Error {
  constructor(readonly tenantId: string) {
    super(`invalid tenant id ${JSON.stringify(tenantId)}: tenant ids match [A-Za-z0-9._-]{1,128}`);
    this.name = 'InvalidTenantIdError';
  }
}

const digest = (key: string) => createHash('sha256').update(key).digest();

export class StaticApiKeys implements ApiKeyResolver {
  private readonly entries: { tenantId: string; digest: Buffer }[];

  constructor(keys: { tenantId: string; key: string }[]) {
    this.entries = keys.map((k) => ({ tenantId: checkTenantId(k.tenantId), digest: digest(k.key) }));
  }

  async resolve(key: string): Promise<string | undefined> {
    const candidate = digest(key);
    let tenant: string | undefined;
    // Compare against every entry so the time taken does not depend on which one matched.
    for (const e of this.entries) if (timingSafeEqual(e.digest, candidate)) tenant = e.tenantId;
    return tenant;
  }

  async name(key: string): Promise<string | undefined> {
    const tenant = await this.resolve(key);
    return tenant === undefined ? undefined : `configured key of ${tenant}`;
  }
}

/** The key in `Authorization: Bearer <key>`, or undefined. */
export function bearerKey(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
