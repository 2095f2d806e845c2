/**
 * The data directory holds key files, the PGlite database and the Temporal history: only its owner may enter it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack } from './helpers/stack';

const modeOf = (p: string) => fs.statSync(p).mode & 0o777;

let parent: string;
beforeEach(() => {
  parent = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-datadir-'));
  fs.chmodSync(parent, 0o755);
});
afterEach(() => fs.rmSync(parent, { recursive: true, force: true }));

it('creates a missing data directory (and its missing parents) readable by its owner only', async () => {
  const dataDir = path.join(parent, 'nested', 'data');
  const stack = await startStack({ worker: false, api: false, env: { MEMOIR_DATA_DIR: dataDir } });
  try {
    expect(modeOf(dataDir).toString(8)).toBe('700');
    expect(modeOf(path.join(parent, 'nested')).toString(8)).toBe('700');
  } finally {
    await stack.stop();
  }
});

it('tightens an existing data directory that others can read, and says so in the log', async () => {
  const dataDir = path.join(parent, 'data');
  fs.mkdirSync(dataDir, { mode: 0o755 });
  fs.chmodSync(dataDir, 0o755);
  const stack = await startStack({ worker: false, api: false, env: { MEMOIR_DATA_DIR: dataDir } });
  try {
    expect(modeOf(dataDir).toString(8)).toBe('700');
    const logged = await (async () => {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        const line = fs
          .readFileSync(stack.logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { msg?: string; from?: string; dataDir?: string })
          .find((l) => l.msg?.includes('data directory was readable by other users'));
        if (line) return line;
      }
      return undefined;
    })();
    expect(logged).toMatchObject({ dataDir, from: '755', to: '700' });
  } finally {
    await stack.stop();
  }
});
