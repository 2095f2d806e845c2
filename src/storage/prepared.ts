/**
 * Named statements for `pg`: each distinct statement text is parsed and planned once per connection, then only bound
 * and executed. A turn's statements are few and long (CTEs of a kilobyte or more), so parsing and planning them on
 * every execution was a large share of PostgreSQL's CPU per turn, and sending their text a share of the worker's.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';

/** Distinct statements given a name, at most: statement texts are fixed in the code, so this is never reached. */
const MAX_NAMED = 1_000;

/**
 * PostgreSQL refuses to run a prepared statement whose result columns changed (a migration added a column to a
 * table it selects `*` from, run by a newer version while this process kept its connections).
 */
const isStalePlan = (err: unknown) =>
  (err as { code?: string }).code === '0A000' && /cached plan must not change result type/.test(String(err));

export class StatementNames {
  private readonly names = new Map<string, string>();
  private generation = 0;

  /** The statement's name, or undefined past the cap (then it is sent unnamed). */
  private nameOf(sql: string): string | undefined {
    let name = this.names.get(sql);
    if (name === undefined && this.names.size < MAX_NAMED) {
      name = `memoir_${this.generation}_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
      this.names.set(sql, name);
    }
    return name;
  }

  /**
   * Runs a statement under its name. A stale plan renames the statement (every connection then prepares it afresh)
   * and, outside a transaction (`retry`), runs it once more; in a transaction the error stands, which aborted it.
   */
  async query(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params: unknown[],
    retry: boolean,
  ): Promise<pg.QueryResult> {
    try {
      return await client.query({ name: this.nameOf(sql), text: sql, values: params });
    } catch (err) {
      if (!isStalePlan(err)) throw err;
      this.generation++;
      this.names.delete(sql);
      if (!retry) throw err;
      return await client.query({ name: this.nameOf(sql), text: sql, values: params });
    }
  }
}
