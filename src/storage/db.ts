/**
 * One small query interface over two real PostgreSQL engines: a server reached with `pg` (production) and PGlite
 * running in-process (the embedded default). The same SQL runs on both.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PGlite as PGliteInstance } from '@electric-sql/pglite';
import pg from 'pg';
import { StatementNames } from './prepared';

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// bigint and numeric arrive as strings by default; every count and cost here fits a double.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const toNumber = (value: string): number => Number(value);

/**
 * A FROM item that makes the statement's own transaction commit asynchronously (`synchronous_commit = off` for that
 * transaction only): the commit returns without waiting for its WAL to reach disk, so it costs no fsync. The write
 * is visible at once and reaches disk with the WAL writer's next flush (within about 3 × `wal_writer_delay`) or
 * with the next synchronous commit on the server, whichever is first; only a crash of PostgreSQL or of the machine
 * in that window loses it. For derived records only, never for what exactly-once or the cost ledger rest on.
 * `INSERT … SELECT … FROM ${ASYNC_COMMIT}`.
 */
export const ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit";

export interface PostgresOptions {
  /**
   * Send statements with parameters as named prepared statements (./prepared.ts). Off for a pooler that cannot keep
   * them (PgBouncer before 1.21 in transaction mode) and for PGlite served over the wire.
   */
  preparedStatements?: boolean;
}

export function openPostgres(connectionString: string, poolSize = 10, options: PostgresOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    // TCP keepalive on every connection. A server that vanishes without closing its sockets (its host gone, a
    // failover, a partition) otherwise leaves a query it had taken waiting for ever: nothing is in flight on the
    // wire, so the kernel never gives up, and the activity around it keeps heartbeating (its timer does not know),
    // holding a pool client until the worker restarts. With it the socket is probed after 10 s of silence and
    // fails once the probes go unanswered. (A backend ended by pg_terminate_backend closes its socket, which pg
    // notices at once: the stall once seen after it was a fault test's stale view, test/helpers/lock-waiters.ts.)
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID || oid === NUMERIC_OID
          ? toNumber
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its server (a restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const names = options.preparedStatements ? new StatementNames() : undefined;
  const query = async <R>(client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]): Promise<R[]> =>
    (names && params ? await names.query(client, sql, params, client === pool) : await client.query(sql, params))
      .rows as R[];
  return {
    kind: 'postgres',
    query: (sql, params) => query(pool, sql, params),
    async transaction(fn) {
      const client = await pool.connect();
      // The server can go away between two statements, when no query is there to receive the error: pg then
      // emits it on the checked-out client, and unheard it would crash the process. Heard, the client is dropped.
      let broken: Error | undefined;
      const onError = (err: Error) => (broken = err);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: (sql, params) => query(client, sql, params),
          exec: async (sql) => void (await client.query(sql)),
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken ??= rollbackFailed));
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    close: () => pool.end(),
  };
}

/** PGlite as a `Db`, with the instance itself (to serve it to other processes: ./pglite-server.ts). */
export async function openPglite(dataDir: string): Promise<Db & { pglite: PGliteInstance }> {
  // Loaded lazily: a server deployment never pays for the WASM build.
  const { PGlite, types } = await import('@electric-sql/pglite');
  const { vector } = await import('@electric-sql/pglite-pgvector');
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o700 });
  const db = await PGlite.create(dataDir, {
    extensions: { vector },
    parsers: { [types.INT8]: toNumber, [types.NUMERIC]: toNumber },
  });
  return {
    kind: 'pglite',
    pglite: db as unknown as PGliteInstance,
    query: async (sql, params) => (await db.query(sql, params)).rows as never,
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async (sql, params) => (await tx.query(sql, params)).rows as never,
          exec: async (sql) => void (await tx.exec(sql)),
        }),
      ),
    async exec(sql) {
      await db.exec(sql);
    },
    close: () => db.close(),
  };
}
