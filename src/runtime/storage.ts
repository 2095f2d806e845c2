/**
 * The database: PostgreSQL when DATABASE_URL is set, else PGlite in the data directory. Migrated on open.
 */
import path from 'node:path';
import type { Config } from '../config';
import { openPglite, openPostgres, type Db } from '../storage/db';
import { migrate } from '../storage/migrate';

export async function openDatabase(config: Config): Promise<{ db: Db; description: string }> {
  const db = config.databaseUrl
    ? openPostgres(config.databaseUrl, config.dbPoolSize)
    : await openPglite(path.join(config.dataDir, 'pglite'));
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  const description = config.databaseUrl
    ? `PostgreSQL at ${redactUrl(config.databaseUrl)}`
    : `PGlite (in-process PostgreSQL) in ${path.join(config.dataDir, 'pglite')}`;
  return { db, description };
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
