/**
 * Which workflow code a worker started from the sources loads. Bundling with webpack costs seconds of CPU at every
 * start; a replacement worker that bundled was most of the ~20 s a turn caught by a worker kill waited
 * (docs/reliability.md, "worker killed"). A prebuilt bundle newer than every source file is the same code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Services } from '../../src/runtime/services';
import { defaultWorkflowSource } from '../../src/runtime/worker';
import { isBundleFresh } from '../../src/temporal/bundle-freshness';
import { WORKFLOW_BUNDLE_PATH } from '../helpers/services';

/** Only what defaultWorkflowSource reads: tracing off, no payload encryption (the plain bundle). */
const services = { config: { tracing: 'off' }, encryption: {} } as unknown as Services;

it('loads the prebuilt bundle when it is newer than the sources (global setup keeps it so)', () => {
  expect(isBundleFresh(WORKFLOW_BUNDLE_PATH)).toBe(true);
  const { source, why } = defaultWorkflowSource(services);
  expect(source).toEqual({ workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } });
  expect(why).toContain('newer than the sources');
});

it('calls a bundle stale once any workflow, source or activity file or the lock is newer', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-bundle-'));
  try {
    for (const dir of ['workflows', 'src/deep', 'activities']) fs.mkdirSync(path.join(root, dir), { recursive: true });
    const files = ['package-lock.json', 'workflows/turn.ts', 'src/deep/x.ts', 'activities/a.ts'];
    const past = new Date(Date.now() - 60_000);
    for (const f of files) {
      fs.writeFileSync(path.join(root, f), '');
      fs.utimesSync(path.join(root, f), past, past);
    }
    const bundle = path.join(root, 'bundle.js');
    expect(isBundleFresh(bundle, root)).toBe(false); // none yet
    fs.writeFileSync(bundle, '');
    expect(isBundleFresh(bundle, root)).toBe(true);
    for (const f of files) {
      const later = new Date(Date.now() + 60_000);
      fs.utimesSync(path.join(root, f), later, later);
      expect(isBundleFresh(bundle, root)).toBe(false);
      fs.utimesSync(path.join(root, f), past, past);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
