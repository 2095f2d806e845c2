/**
 * A PostgreSQL server of a test's own (initdb into a temporary directory, a free loopback port) that can be stopped
 * and started again on the same data, while the shared test server stays up for everyone else. Flags follow
 * `scripts/services.sh start_postgres`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './processes';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;

/** initdb refuses to run as root: as root, run PostgreSQL's tools as the `postgres` user. */
function asOwner(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const file = path.join(PG_BIN, bin);
  return isRoot ? run('runuser', ['-u', 'postgres', '--', file, ...args]) : run(file, args);
}

export interface PostgresProcess {
  /** Connection string of the `postgres` database (user `memoir`, trust auth). */
  url: string;
  port: number;
  /** Stops the server: `immediate` is a crash (recovery on the next start), `fast` a clean shutdown. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
}

export async function postgresProcess(): Promise<PostgresProcess> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-pg-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  if (isRoot) await run('chown', ['-R', 'postgres:postgres', dir]);
  await asOwner('initdb', ['-D', data, '-U', 'memoir', '--auth=trust', '-E', 'UTF8']);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k /tmp -c max_connections=200 -c fsync=off`;
  const start = async () => {
    await asOwner('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
  };
  const stop = async (mode: 'immediate' | 'fast' = 'immediate') => {
    await asOwner('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
  };
  await start();
  return {
    url: `postgres://memoir@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async destroy() {
      await stop('fast').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
