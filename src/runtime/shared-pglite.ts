/**
 * The embedded PGlite database shared between Memoir processes. The process that opens its files (a `serve`,
 * `worker`, `api` or `demo`) serves it over the PostgreSQL wire protocol on loopback, with a random password, and
 * says where in `<data dir>/pglite-server.json` (0600, removed on exit). Every other Memoir process finds that file
 * and connects with the ordinary `pg` client, as to PostgreSQL; so can an operator:
 * `psql "postgres://postgres:<password>@127.0.0.1:<port>/postgres"`. A file left by a process that died is
 * recognised (its process is gone, or nothing answers with its password) and ignored.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { PGlite } from '@electric-sql/pglite';
import { openPostgres, type Db } from '../storage/db';
import { servePglite } from '../storage/pglite-server';

export const SERVER_FILE = 'pglite-server.json';

const serverFile = z.object({
  pid: z.number().int(),
  host: z.string(),
  port: z.number().int(),
  password: z.string(),
});
export type PgliteServerInfo = z.output<typeof serverFile>;

/** Serves `pglite` and writes the server file; `close()` stops serving and removes the file. */
export async function sharePglite(
  dataDir: string,
  pglite: PGlite,
): Promise<{ info: PgliteServerInfo; close(): Promise<void> }> {
  const password = randomBytes(24).toString('base64url');
  const server = await servePglite(pglite, password);
  const info: PgliteServerInfo = { pid: process.pid, host: server.host, port: server.port, password };
  const file = path.join(dataDir, SERVER_FILE);
  // Written aside and renamed: a reader never sees half a file, and a stale file of a dead owner is replaced.
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(info), { mode: 0o600 });
  fs.renameSync(temp, file);
  const removeFile = () => {
    try {
      if (readServerFile(dataDir)?.pid === process.pid) fs.rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
  };
  // A process that exits without closing (a fatal error) still removes it; a crash leaves a stale file.
  process.once('exit', removeFile);
  return {
    info,
    async close() {
      process.off('exit', removeFile);
      removeFile();
      await server.close();
    },
  };
}

/** The server file of a live owner, or undefined (none, unreadable, or its process is gone). */
export function readServerFile(dataDir: string): PgliteServerInfo | undefined {
  let parsed: PgliteServerInfo;
  try {
    parsed = serverFile.parse(JSON.parse(fs.readFileSync(path.join(dataDir, SERVER_FILE), 'utf8')));
  } catch {
    return undefined;
  }
  return isAlive(parsed.pid) ? parsed : undefined;
}

/**
 * A `pg` connection to the database another process serves, or undefined when none is served (or the file is
 * stale: the process is gone, or what listens there does not take its password).
 */
export async function connectSharedPglite(
  dataDir: string,
  poolSize = 2,
): Promise<{ db: Db; info: PgliteServerInfo } | undefined> {
  const info = readServerFile(dataDir);
  if (!info || info.pid === process.pid) return undefined;
  // Through `pg`, but PGlite all the same (pgvector, its migrations): the semantic store and migrations go by kind.
  const db: Db = { ...openPostgres(sharedPgliteUrl(info), poolSize), kind: 'pglite' };
  try {
    await db.query('SELECT 1');
    return { db, info };
  } catch {
    await db.close().catch(() => undefined);
    return undefined;
  }
}

export function sharedPgliteUrl(info: PgliteServerInfo): string {
  return `postgres://postgres:${encodeURIComponent(info.password)}@${info.host}:${info.port}/postgres`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, another user's. ESRCH: gone.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
