/**
 * Where a benchmark's Memoir keeps its state. By default the latency suites run on the configuration users run: a
 * Temporal dev server of the benchmark's own, file-backed in a temporary directory with the project's settings
 * (temporal-config/dev-server.json: dynamic config, search attributes and the SQLite pragmas of the embedded
 * server, applied by the same `startDevServer` as `memoir serve`), and a PostgreSQL cluster of its own with
 * `fsync` on (the test services run `fsync=off`, which no deployment should). `--shared-services` keeps the test
 * services instead: faster to start, not what users run. Redis and Weaviate are the test services either way.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePorts } from '../../src/free-port';
import { dynamicConfigFlags, sqlitePragmaFlags, startDevServer } from '../../src/temporal/dev-server';
import { uniqueId } from '../../test/helpers/stack';
import { TEST_SERVICES } from '../../test/helpers/services';

const run = promisify(execFile);
const PG_BIN = process.env.BENCH_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface BenchInfra {
  kind: 'durable' | 'shared';
  temporalAddress: string;
  /** A superuser connection to the cluster (databases are created and dropped through it). */
  adminDatabaseUrl: string;
  /** The server settings applied, for the results' parameters line. */
  settings: Record<string, string>;
  /** A fresh, empty database on this cluster. */
  createDatabase(): Promise<{ url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

/** PostgreSQL settings recorded with the results: what decides durability and commit latency. */
export const RECORDED_PG_SETTINGS = ['fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method'] as const;

/**
 * The `settings` entries of a run: Temporal's (storage, dynamic config and pragmas as passed on the command line)
 * and PostgreSQL's (as the server reports them).
 */
export function describeSettings(
  temporal: { storage: string; flags: string[] },
  postgres: Record<string, string>,
): Record<string, string> {
  const pairs = (flag: string) =>
    temporal.flags.flatMap((f, i) => (f === flag && temporal.flags[i + 1] ? [temporal.flags[i + 1]!] : []));
  const pragmas = pairs('--sqlite-pragma');
  return {
    temporalStorage: temporal.storage,
    ...(pragmas.length ? { temporalSqlitePragmas: pragmas.join(' ') } : {}),
    temporalDynamicConfig: pairs('--dynamic-config-value').join(' '),
    postgres: RECORDED_PG_SETTINGS.map((k) => `${k}=${postgres[k] ?? '?'}`).join(' '),
  };
}

async function readPgSettings(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      'SELECT name, setting FROM pg_settings WHERE name = ANY($1)',
      [[...RECORDED_PG_SETTINGS]],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  } finally {
    await client.end();
  }
}

function databaseFactory(adminUrl: string) {
  return async () => {
    const name = uniqueId('memoir_bench').replace(/-/g, '_');
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      async drop() {
        const c = new pg.Client({ connectionString: adminUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  };
}

/** The test services (scripts/services.sh): shared with the tests, PostgreSQL with fsync off. */
export async function sharedInfra(): Promise<BenchInfra> {
  const postgres = await readPgSettings(TEST_SERVICES.databaseUrl);
  return {
    kind: 'shared',
    temporalAddress: TEST_SERVICES.temporalAddress,
    adminDatabaseUrl: TEST_SERVICES.databaseUrl,
    settings: describeSettings(
      { storage: 'the test services’ in-memory dev server', flags: dynamicConfigFlags() },
      postgres,
    ),
    createDatabase: databaseFactory(TEST_SERVICES.databaseUrl),
    stop: async () => undefined,
  };
}

// initdb and the server refuse to run as root: as root, run them as the `postgres` user (as scripts/services.sh does).
const asOwner = (cmd: string, args: string[]) =>
  process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);

async function startPostgres(dir: string, port: number, log: (m: string) => void) {
  fs.mkdirSync(dir, { mode: 0o700 });
  if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', dir]);
  await asOwner(path.join(PG_BIN, 'initdb'), ['-D', dir, '-U', 'memoir', '--auth=trust', '-E', 'UTF8']);
  log(`bench PostgreSQL: own cluster on 127.0.0.1:${port}, fsync on, in ${dir}`);
  // BENCH_PG_STATEMENTS=1 (scripts/cpu-per-turn.ts --pg-statements): per-statement totals, for profiling only.
  const statements = process.env.BENCH_PG_STATEMENTS === '1' ? ' -c shared_preload_libraries=pg_stat_statements' : '';
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=300 -c fsync=on -c synchronous_commit=on${statements}`;
  await asOwner(path.join(PG_BIN, 'pg_ctl'), [
    '-D',
    dir,
    '-l',
    path.join(dir, 'server.log'),
    '-w',
    '-o',
    opts,
    'start',
  ]);
  return {
    url: `postgres://memoir@127.0.0.1:${port}/postgres`,
    stop: () => asOwner(path.join(PG_BIN, 'pg_ctl'), ['-D', dir, '-m', 'fast', '-w', 'stop']).then(() => undefined),
  };
}

/** A file-backed Temporal and an fsync-on PostgreSQL of the benchmark's own, in one temporary directory. */
export async function durableInfra(log: (m: string) => void): Promise<BenchInfra> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-bench-durable-'));
  fs.chmodSync(dir, 0o755);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [pgPort, temporalPort, uiPort, httpPort] = await freePorts(4);
    const postgres = await startPostgres(path.join(dir, 'pg'), pgPort!, log);
    stops.push(postgres.stop);
    const temporal = await startDevServer({
      dataDir: path.join(dir, 'temporal'),
      port: temporalPort!,
      uiPort: uiPort!,
      httpPort: httpPort!,
      namespace: 'default',
      onProgress: (m) => log(`bench Temporal: ${m}`),
    });
    stops.push(() => temporal.stop());
    const settings = describeSettings(
      { storage: 'file-backed dev server (SQLite file)', flags: [...sqlitePragmaFlags(), ...dynamicConfigFlags()] },
      await readPgSettings(postgres.url),
    );
    return {
      kind: 'durable',
      temporalAddress: temporal.address,
      adminDatabaseUrl: postgres.url,
      settings,
      createDatabase: databaseFactory(postgres.url),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
