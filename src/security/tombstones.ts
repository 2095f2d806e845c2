/**
 * Erasure tombstones: a row per erased tenant, user or conversation, with the time and no content. They fence
 * the writes an erasure cannot stop: an activity that started before the erasure and finishes after it would
 * otherwise put vectors or cache entries back; and they refuse a configured API key (MEMOIR_API_KEYS, which no
 * database update can revoke) for an erased tenant.
 */
import type { Queryable } from '../storage/db';

export type ErasureTarget = { tenant: true } | { userId: string } | { conversationId: string };

const targetOf = (t: ErasureTarget): string =>
  'tenant' in t ? '' : 'userId' in t ? `u/${t.userId}` : `c/${t.conversationId}`;

/** What an erasure fence guards: a conversation, and its owner when known. */
export interface FencedScope {
  tenantId: string;
  conversationId: string;
  userId?: string | undefined;
}

/** The tombstone targets that fence `scope`'s writes: its tenant, its conversation, its owner when given. */
export const fenceTargets = (scope: FencedScope): string[] => [
  '',
  targetOf({ conversationId: scope.conversationId }),
  ...(scope.userId ? [targetOf({ userId: scope.userId })] : []),
];

/**
 * The fence as a condition on `erasures`, for a statement of its own or one that writes (the stored turn reads it
 * in the same round trip): parameters numbered `tenant` (text), `targets` (text[]) and `since` (timestamptz).
 * `ownerColumn`, an SQL expression of the owner's user id that the statement has read anyway (the stored turn's
 * locked conversation row), adds the owner's target without a look-up of its own.
 */
export const erasedSinceCondition = (tenant: number, targets: number, since: number, ownerColumn?: string): string =>
  `tenant_id = $${tenant} AND target = ANY($${targets}::text[]${ownerColumn ? ` || ('u/' || ${ownerColumn})` : ''}) ` +
  `AND erased_at >= $${since}::timestamptz`;

export class ErasureTombstones {
  constructor(private readonly db: Queryable) {}

  /** Records (or renews) the erasure of `target`; called before the erasure starts deleting. */
  async record(tenantId: string, target: ErasureTarget): Promise<void> {
    await this.db.query(
      `INSERT INTO erasures (tenant_id, target) VALUES ($1, $2)
       ON CONFLICT (tenant_id, target) DO UPDATE SET erased_at = now()`,
      [tenantId, targetOf(target)],
    );
  }

  /** Whether the whole tenant was ever erased. */
  async tenantErased(tenantId: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM erasures WHERE tenant_id = $1 AND target = ''`, [tenantId]);
    return rows.length > 0;
  }

  /**
   * Whether the conversation (its tenant, or its owner when given) was erased at or after `since`: work that
   * began before then must not write anything of it back.
   */
  async erasedSince(scope: FencedScope, since: Date): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM erasures WHERE ${erasedSinceCondition(1, 2, 3)} LIMIT 1`, [
      scope.tenantId,
      fenceTargets(scope),
      since,
    ]);
    return rows.length > 0;
  }
}
