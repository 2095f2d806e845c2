/**
 * The committed histories (test/replay/histories/*.json, written by scripts/capture-histories.ts) and a quiet way
 * to bundle workflow code for replaying them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { readHistoryFile, type History } from '../../src/replay/history';

export const HISTORIES_DIR = path.join(__dirname, 'histories');
export const FIXTURES_DIR = path.join(__dirname, 'fixtures');

export interface CommittedHistory {
  name: string;
  history: History;
  meta: { scenario: string; workflowId: string; events: number; lastEvent: string };
}

export function committedHistories(): CommittedHistory[] {
  return fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.meta.json'))
    .sort()
    .map((f) => {
      const name = f.replace(/\.json$/, '');
      return {
        name,
        history: readHistoryFile(path.join(HISTORIES_DIR, f)),
        meta: JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, `${name}.meta.json`), 'utf8')),
      };
    });
}

const silent = () => undefined;
const bundles = new Map<string, Promise<{ code: string }>>();

/** One bundle per workflow entry per test file (bundling takes about a second). */
export function bundleOf(entry: string): Promise<{ code: string }> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: entry,
      logger: { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: console.error },
    }).then(({ code }) => ({ code }));
    bundles.set(entry, bundle);
  }
  return bundle;
}
