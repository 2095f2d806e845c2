/**
 * Erasures recorded by any process, seen by this one. The codec's owner cache and the data key cache live in each
 * process; the process that erases clears its own at once, and every other process (a worker, an API, a codec
 * server) must stop using a cached owner or key of an erased tenant, user or conversation within a short bound.
 *
 * Before either cache is used, `fresh()` makes sure the erasure tombstones (`erasures`, src/security/tombstones.ts)
 * have been read within the last `boundMs`: one small query per bound at most, shared by concurrent callers, the
 * same on PostgreSQL and on PGlite (whose LISTEN/NOTIFY does not reach other processes). A new or renewed tombstone
 * is handed to the listeners, which evict what it covers; the next use looks it up again in the database.
 */
import type { Queryable } from '../storage/db';

/** What an erasure covers: a whole tenant, one user of it, or one conversation. */
export type ErasedScope = { tenantId: string; userId?: string; conversationId?: string };

/** Default bound: a process stops using an erased owner or key at most this long after the erasure is recorded. */
export const ERASURE_CHECK_MS = 1_000;

// erased_at is the start of the recording transaction, which may commit a moment after a read that did not see it:
// each read looks this far behind the previous one, and tombstones already handed out are not handed out twice.
const OVERLAP_MS = 5_000;

interface TombstoneRow {
  tenant_id: string | null;
  target: string | null;
  erased_at: Date | null;
  now: Date;
}

const scopeOf = (tenantId: string, target: string): ErasedScope =>
  target.startsWith('u/')
    ? { tenantId, userId: target.slice(2) }
    : target.startsWith('c/')
      ? { tenantId, conversationId: target.slice(2) }
      : { tenantId };

export class ErasureWatch {
  private readonly listeners: ((scope: ErasedScope) => void)[] = [];
  /** Tombstones handed out, by tenant and target, with the erasure time they had. */
  private readonly seen = new Map<string, number>();
  /** Database time of the last read; undefined before the first (nothing cached then, so nothing to evict). */
  private cursor: Date | undefined;
  /** Local time the last read started. */
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly db: Queryable,
    readonly boundMs = ERASURE_CHECK_MS,
  ) {}

  /** Calls `listener` for every erasure recorded from now on (by any process). */
  onErasure(listener: (scope: ErasedScope) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Resolves once every erasure recorded at least `boundMs` ago has been handed to the listeners. A failing read
   * throws: a cache must not be trusted when it cannot be checked.
   */
  async fresh(): Promise<void> {
    if (performance.now() - this.readAt < this.boundMs) return;
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<void> {
    const started = performance.now();
    const rows = await this.db.query<TombstoneRow>(
      `SELECT e.tenant_id, e.target, e.erased_at, n.now
         FROM (SELECT now() AS now) n
         LEFT JOIN erasures e ON e.erased_at > $1::timestamptz - $2::interval`,
      [this.cursor ?? null, `${OVERLAP_MS} milliseconds`],
    );
    const now = rows[0]!.now;
    for (const row of rows) {
      if (row.tenant_id === null || row.target === null || row.erased_at === null) continue;
      const key = `${row.tenant_id}\n${row.target}`;
      const at = row.erased_at.getTime();
      if (this.seen.get(key) === at) continue;
      this.seen.set(key, at);
      const scope = scopeOf(row.tenant_id, row.target);
      for (const listener of this.listeners) listener(scope);
    }
    // Older entries can no longer come back from a read: forget them, so this map stays small.
    for (const [key, at] of this.seen) if (at < now.getTime() - 2 * OVERLAP_MS) this.seen.delete(key);
    this.cursor = now;
    this.readAt = started;
  }
}
