/**
 * The two database engines Memoir runs on, for `describe.each`: a fresh database on the test PostgreSQL server,
 * and PGlite in a temporary directory. Each opens unmigrated; `cleanup` removes it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPglite, openPostgres, type Db } from '../../src/storage/db';
import { freshDatabase } from './stack';

export type Engine = [name: string, open: () => Promise<{ db: Db; cleanup: () => Promise<void> }>];

export const ENGINES: Engine[] = [
  [
    'PostgreSQL',
    async () => {
      const database = await freshDatabase();
      const db = openPostgres(database.url);
      return { db, cleanup: async () => (await db.close(), await database.drop()) };
    },
  ],
  [
    'PGlite',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-pglite-'));
      const db = await openPglite(path.join(dir, 'db'));
      return { db, cleanup: async () => (await db.close(), fs.rmSync(dir, { recursive: true, force: true })) };
    },
  ],
];
