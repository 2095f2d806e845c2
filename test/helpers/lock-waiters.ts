/**
 * Which backends wait on a lock that a test holds, read by the holder itself, inside its transaction.
 *
 * PostgreSQL shows a transaction pg_stat_activity as it was at the transaction's first read of it: a backend that
 * connected since — a pool replacing a connection the test terminated, or opening one more — stays invisible until
 * the transaction ends. A fault test reading waiters that way can miss the very write it waits for: the write sits
 * on the lock, its activity heartbeating, while the test sees no query waiting (an apparent pool stall). The
 * snapshot is dropped before every read.
 */
import type pg from 'pg';

/** Backends of this database other than `holder`'s waiting on a lock (of one kind: `transactionid`, `relation`). */
export async function lockWaiters(holder: pg.Client, waitEvent?: string): Promise<number[]> {
  await holder.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await holder.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND wait_event_type = 'Lock' AND ($1::text IS NULL OR wait_event = $1)`,
    [waitEvent ?? null],
  );
  return rows.map((r) => r.pid);
}
