/**
 * Versioned SQL migrations, applied in file-name order at start-up. Each runs in its own transaction under an
 * advisory lock, so several workers starting at once apply each migration exactly once.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './db';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
// Any constant works; it only has to be the same for every Memoir process sharing a database.
const MIGRATION_LOCK_KEY = 7_302_114;

/** Migrations whose name ends in `.pglite.sql` need an extension only the embedded engine has (pgvector). */
function migrationsFor(kind: Db['kind']): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((name) => name.endsWith('.sql'))
    .filter((name) => kind === 'pglite' || !name.endsWith('.pglite.sql'))
    .sort();
}

/** Applies what is missing and returns the versions it applied. */
export async function migrate(db: Db): Promise<string[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied: string[] = [];
  for (const name of migrationsFor(db.kind)) {
    const version = name.replace(/\.sql$/, '');
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const rows = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [version]);
      if (rows.length > 0) return false;
      await tx.exec(fs.readFileSync(path.join(MIGRATIONS_DIR, name), 'utf8'));
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      return true;
    });
    if (done) applied.push(version);
  }
  return applied;
}
