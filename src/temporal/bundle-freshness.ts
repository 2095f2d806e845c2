/**
 * Whether a prebuilt workflow bundle is at least as new as everything it was made from, so a worker started from
 * the sources (development, the tests' child workers) can load it instead of bundling at start-up. Bundling costs
 * seconds of CPU — 10 to 20 s on a loaded 2-core machine — and a replacement worker that bundles is what made a
 * turn caught by a worker kill wait ~20 s (docs/reliability.md, "worker killed").
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
/** What the bundle is made from: the workflow code, what it imports from src/ and activities/ (types), the lock. */
const INPUT_DIRS = ['workflows', 'src', 'activities'];

/** Newest modification time (ms) of the files a workflow bundle is made from; 0 when none is found. */
export function newestBundleInput(root = ROOT): number {
  const lock = path.join(root, 'package-lock.json');
  let newest = fs.existsSync(lock) ? fs.statSync(lock).mtimeMs : 0;
  for (const dir of INPUT_DIRS) {
    const where = path.join(root, dir);
    if (!fs.existsSync(where)) continue;
    for (const entry of fs.readdirSync(where, { recursive: true, withFileTypes: true }))
      if (entry.isFile()) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** True when `bundlePath` exists and was written after every input last changed. */
export function isBundleFresh(bundlePath: string, root = ROOT): boolean {
  if (!fs.existsSync(bundlePath)) return false;
  return fs.statSync(bundlePath).mtimeMs > newestBundleInput(root);
}
