/**
 * The database: PostgreSQL when DATABASE_URL is set, else PGlite in the data directory (shared between processes
 * by the one that opened it: ./shared-pglite.ts). Migrated on open.
 */
import path from 'node:path';
import type { Config } from '../config';
import { openPglite, openPostgres, type Db } from '../storage/db';
import { migrate } from '../storage/migrate';
import { connectSharedPglite, SERVER_FILE, sharePglite } from './shared-pglite';

export interface OpenDatabaseOptions {
  /**
   * Serve the embedded PGlite to other Memoir processes when this process opens its files (server processes do;
   * a CLI verb that opens them briefly does not).
   */
  share?: boolean;
}

/**
 * PostgreSQL at DATABASE_URL; else the embedded PGlite — through the process that already serves it when one
 * does, or from its files (then served to others with `share`).
 */
export async function openDatabase(
  config: Config,
  opts: OpenDatabaseOptions = {},
): Promise<{ db: Db; description: string }> {
  if (config.databaseUrl) {
    const db = openPostgres(config.databaseUrl, config.dbPoolSize, {
      preparedStatements: config.pgPreparedStatements,
    });
    await migrated(db);
    return { db, description: `PostgreSQL at ${redactUrl(config.databaseUrl)}` };
  }
  const dir = path.join(config.dataDir, 'pglite');
  // Its owner migrated it.
  const shared = await connectSharedPglite(config.dataDir);
  if (shared) {
    const { host, port, pid } = shared.info;
    return { db: shared.db, description: `PGlite in ${dir}, served by process ${pid} on ${host}:${port}` };
  }
  const pglite = await openPglite(dir);
  await migrated(pglite);
  if (!opts.share) return { db: pglite, description: `PGlite (in-process PostgreSQL) in ${dir}` };
  const server = await sharePglite(config.dataDir, pglite.pglite).catch(async (err: unknown) => {
    await pglite.close().catch(() => undefined);
    throw err;
  });
  const { host, port } = server.info;
  return {
    db: { ...pglite, close: () => server.close().finally(() => pglite.close()) },
    description:
      `PGlite (in-process PostgreSQL) in ${dir}; other processes reach it on ${host}:${port} ` +
      `(user postgres, password in ${path.join(config.dataDir, SERVER_FILE)})`,
  };
}

async function migrated(db: Db): Promise<void> {
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** A connection string without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
