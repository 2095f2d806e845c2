/**
 * PGlite is PostgreSQL in one process: it takes no lock on its data directory, and a second process opening the
 * same directory (an inspection verb while `memoir serve` runs on the embedded default) can corrupt it. Before an
 * inspection verb opens PGlite it looks for another process holding files in that directory, and refuses.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Ids of other processes with files open under `dir`; undefined when this platform gives no way to tell. */
export function pgliteHolders(dir: string): number[] | undefined {
  const prefix = `${path.resolve(dir)}${path.sep}`;
  if (fs.existsSync('/proc/self/fd')) return procHolders(prefix);
  // macOS and the BSDs: lsof lists the processes with files open below a directory.
  const lsof = spawnSync('lsof', ['-t', '+D', path.resolve(dir)], { encoding: 'utf8' });
  if (lsof.error) return undefined;
  return lsof.stdout
    .split('\n')
    .map(Number)
    .filter((pid) => pid > 0 && pid !== process.pid);
}

function procHolders(prefix: string): number[] {
  const holders: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's process
    }
    const holds = fds.some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(prefix);
      } catch {
        return false;
      }
    });
    if (holds) holders.push(pid);
  }
  return holders;
}
