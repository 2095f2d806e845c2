/**
 * What the inspection verbs (`ls`, `show`, `history`, `replay`, `rerun`, `cost`) open: only the part of the
 * configuration each needs, never anything they would have to start. Temporal is the configured server, or the
 * embedded dev server a running `memoir serve` started; the database is PostgreSQL, or PGlite when no other process
 * has it open.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { MemoirClient } from '../client/memoir-client';
import type { Config } from '../config';
import { clientSealer } from '../runtime/encryption';
import { connectSharedPglite, SERVER_FILE } from '../runtime/shared-pglite';
import { openDatabase, redactUrl } from '../runtime/storage';
import { redactionKey } from '../privacy/text-policy';
import { userSearchKeyFrom } from '../security/user-search-key';
import { ConversationStore } from '../storage/conversations';
import { ToolCallStore } from '../storage/tool-calls';
import { toolCallReader } from '../storage/tool-calls';
import type { Db } from '../storage/db';
import { CliError } from './errors';
import { pgliteHolders } from './pglite-guard';

export interface TemporalConnection {
  client: Client;
  connection: Connection;
  address: string;
  close(): Promise<void>;
}

/**
 * A client of TEMPORAL_ADDRESS, or of the embedded dev server at 127.0.0.1:MEMOIR_TEMPORAL_PORT when it is running.
 * Never starts one: an inspection verb that found nothing running says so.
 */
export async function connectTemporal(config: Config): Promise<TemporalConnection> {
  const configured = config.temporal.address;
  const address = configured ?? `127.0.0.1:${config.temporal.devServerPort}`;
  if (!configured && !(await isListening('127.0.0.1', config.temporal.devServerPort))) {
    throw new CliError(
      `no Temporal server is running: TEMPORAL_ADDRESS is unset and nothing listens on ${address}, where ` +
        '`memoir serve` runs its embedded dev server. Start `memoir serve` (or `memoir demo --keep`), or set ' +
        'TEMPORAL_ADDRESS.',
    );
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 5_000 });
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${address}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const client = new Client({ connection, namespace: config.temporal.namespace });
  return { client, connection, address, close: () => connection.close() };
}

/**
 * The database, read-only in intent: PostgreSQL at DATABASE_URL, or the embedded PGlite — through the process that
 * serves it (a running `memoir serve`), else from its files; refused while a process holds the files without
 * serving them, since a second opener can corrupt PGlite.
 */
export async function openCliDatabase(config: Config): Promise<Db> {
  if (config.databaseUrl) {
    try {
      return (await openDatabase(config)).db;
    } catch (err) {
      throw new CliError(
        `cannot open PostgreSQL at ${redactUrl(config.databaseUrl)}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const dir = path.join(config.dataDir, 'pglite');
  // A running `serve` (or `demo --keep`) serves it: read it through that process.
  const shared = await connectSharedPglite(config.dataDir);
  if (shared) return shared.db;
  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    throw new CliError(
      `no database: DATABASE_URL is unset and there is no embedded PGlite database in ${dir} yet ` +
        '(`memoir serve` creates it). Set DATABASE_URL or MEMOIR_DATA_DIR to inspect another one.',
    );
  }
  const holders = pgliteHolders(dir);
  if (holders && holders.length > 0) {
    throw new CliError(
      `the embedded PGlite database in ${dir} is open in process ${holders.join(', ')} (a running \`memoir serve\`?). ` +
        'PGlite serves one process at a time and that process does not serve it to others (no ' +
        `${SERVER_FILE}): stop it first, or run \`serve\` on PostgreSQL (DATABASE_URL). Conversations can also be ` +
        'read through the HTTP API.',
    );
  }
  try {
    return (await openDatabase(config)).db;
  } catch (err) {
    throw new CliError(`cannot open PGlite in ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function memoirClient(config: Config, client: Client, db: Db): MemoirClient {
  // Messages, system prompts and tool calls sealed at rest are read (and written) with the server's keys.
  const sealer = clientSealer(config, db);
  return new MemoirClient({
    client,
    taskQueue: config.temporal.taskQueue,
    policy: config.policy,
    conversations: new ConversationStore(db, sealer),
    userSearchKey: userSearchKeyFrom(redactionKey(config.redaction.key, config.dataDir)),
    toolCalls: toolCallReader(new ToolCallStore(db, sealer)),
  });
}

function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
