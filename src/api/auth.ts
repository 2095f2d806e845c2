/**
 * Bearer API keys, each mapped to one tenant. Keys are compared by SHA-256 digest in constant time, so neither
 * timing nor a memory dump of the table reveals a key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface ApiKeyResolver {
  /** The tenant a key belongs to, or undefined. */
  resolve(key: string): Promise<string | undefined>;
}

const digest = (key: string) => createHash('sha256').update(key).digest();

export class StaticApiKeys implements ApiKeyResolver {
  private readonly entries: { tenantId: string; digest: Buffer }[];

  constructor(keys: { tenantId: string; key: string }[]) {
    this.entries = keys.map((k) => ({ tenantId: k.tenantId, digest: digest(k.key) }));
  }

  async resolve(key: string): Promise<string | undefined> {
    const candidate = digest(key);
    let tenant: string | undefined;
    // Compare against every entry so the time taken does not depend on which one matched.
    for (const e of this.entries) if (timingSafeEqual(e.digest, candidate)) tenant = e.tenantId;
    return tenant;
  }
}

/** The key in `Authorization: Bearer <key>`, or undefined. */
export function bearerKey(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
