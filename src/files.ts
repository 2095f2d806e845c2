/**
 * Files a process creates once and every process then shares (keys and tokens in the data directory), and the
 * data directory itself, which only its owner may enter.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The file's content, creating it with `make()` when missing. Two processes starting together may both create
 * it: each writes aside and links into place atomically, so the first link wins and both read the same content.
 */
export function readOrCreate(file: string, make: () => string): string {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, make(), { mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  return fs.readFileSync(file, 'utf8').trim();
}

/** rwx for the owner only: the data directory holds key files, the PGlite database and the Temporal history. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates `dir` (and missing parents) 0700, or tightens an existing one that others may read or enter. Returns the
 * mode it had when it was tightened, for the caller to log. Files inside keep their modes: a directory others
 * cannot enter already keeps them out of everything in it.
 */
export function ensurePrivateDir(dir: string): { tightenedFrom: number } | undefined {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const mode = fs.statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  fs.chmodSync(dir, mode & 0o700);
  return { tightenedFrom: mode };
}
