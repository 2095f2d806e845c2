/**
 * Every verb's error path, as a user at a terminal meets it: the real CLI in a child process, made to fail in the
 * cheapest way each verb can (a bad setting, nothing running, no database, a bad argument). Each must print exactly
 * one line `memoir: <why>` on stderr — no stack, no "sonic boom is not ready yet" from the log file's exit hook —
 * and exit with the documented code (1).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PLAINTEXT_REFUSAL } from '../../src/runtime/encryption';
import { memoir, type CliResult } from './run-cli';

let dir: string;
let env: Record<string, string>;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-cli-errors-'));
  fs.writeFileSync(path.join(dir, 'not-a-history.json'), '{}');
  // An empty data directory, and ports where nothing listens: no Temporal, no PGlite, no API.
  env = {
    MEMOIR_DATA_DIR: dir,
    MEMOIR_TEMPORAL_PORT: '59991',
    MEMOIR_API_URL: 'http://127.0.0.1:59992',
  };
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const noTemporal =
  'no Temporal server is running: TEMPORAL_ADDRESS is unset and nothing listens on 127.0.0.1:59991, where ' +
  '`memoir serve` runs its embedded dev server. Start `memoir serve` (or `memoir demo --keep`), or set ' +
  'TEMPORAL_ADDRESS.';
const noDatabase = () =>
  `no database: DATABASE_URL is unset and there is no embedded PGlite database in ${path.join(dir, 'pglite')} yet ` +
  '(`memoir serve` creates it). Set DATABASE_URL or MEMOIR_DATA_DIR to inspect another one.';
const badPort = 'invalid configuration: MEMOIR_API_PORT: Invalid input: expected number, received NaN';

/** [verb arguments, extra environment, the one message expected] */
const cases: [string[], Record<string, string>, () => string][] = [
  [['serve'], { MEMOIR_API_PORT: 'abc' }, () => badPort],
  // An external Temporal and no master key: the servers refuse rather than store plaintext histories there.
  [['serve'], { TEMPORAL_ADDRESS: '127.0.0.1:59993' }, () => PLAINTEXT_REFUSAL],
  [['worker'], { TEMPORAL_ADDRESS: '127.0.0.1:59993' }, () => PLAINTEXT_REFUSAL],
  [['worker'], { MEMOIR_API_PORT: 'abc' }, () => badPort],
  [['api'], { MEMOIR_API_PORT: 'abc' }, () => badPort],
  [['demo'], { MEMOIR_API_PORT: 'abc' }, () => badPort],
  [['chat', 'c-1'], {}, () => 'no API key: set MEMOIR_API_KEY (or start `memoir serve`, which creates a demo key)'],
  [
    ['send', 'c-1', 'hello', '--sent-at', '8 May 2023'],
    {},
    () => '--sent-at: sentAt must be an ISO 8601 timestamp with a time zone, such as 2023-05-08T13:56:00Z',
  ],
  [['ls'], {}, () => noTemporal],
  [['show', 'c-1'], {}, () => noTemporal],
  [['history', 'export', 'c-1'], {}, () => noTemporal],
  [
    ['replay', '--file', 'DIR/not-a-history.json'],
    {},
    () => `${dir}/not-a-history.json: not a workflow history (no events)`,
  ],
  [['rerun', 'c-1', 'm-1'], {}, noDatabase],
  [['cost'], {}, noDatabase],
  [['keys', 'list'], {}, noDatabase],
  [['keys', 'create', '--tenant', 'not an id'], {}, () => '--tenant must match [A-Za-z0-9._-]{1,128}'],
  [['keys', 'revoke', 'k-1'], {}, noDatabase],
  [['erase', '--tenant', 't'], {}, () => 'say what to erase: --user, --conversation or --all'],
];

describe('a failing verb prints one line and exits 1', () => {
  // Two at a time: each is a tsx process, and the machine is small.
  let results: CliResult[];
  beforeAll(async () => {
    results = [];
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2).map(([args, extra]) =>
        memoir(
          args.map((a) => a.replace('DIR', dir)),
          { ...env, ...extra },
        ),
      );
      results.push(...(await Promise.all(batch)));
    }
  }, 300_000);

  it.each(cases.map((c, i) => [c[0].join(' '), i] as const))('%s', (_verb, i) => {
    const result = results[i]!;
    const expected = cases[i]![2]();
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('sonic boom');
    expect(result.stderr).toBe(`memoir: ${expected}\n`);
    expect(result.code, result.stderr).toBe(1);
  });
});
