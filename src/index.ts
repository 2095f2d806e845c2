/**
 * Memoir as a library: `MemoirClient` for applications that start and message conversations from their own
 * code (no HTTP), and the types it shares with the workflow.
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from './config';
import { MemoirClient } from './client/memoir-client';
import { redactionKey } from './privacy/text-policy';
import { userSearchKeyFrom } from './security/user-search-key';
import { clientDataConverter, hasMasterKeys } from './runtime/encryption';
import { loggerFor } from './runtime/privacy';
import { openDatabase } from './runtime/storage';
import { storedReplies, type StoredReplies } from './runtime/stored-replies';

export { MemoirClient } from './client/memoir-client';
export type {
  ConversationSummary,
  ContextPreview,
  ListFilter,
  MemoirClientOptions,
  MessageInput,
  SendOptions,
  StartConversationInput,
} from './client/memoir-client';
export { MemoirError } from './client/errors';
export type { ConversationState, ConversationStatus, Reply, TurnResult, Usage } from '../workflows/contract';

export interface ConnectOptions {
  /** Temporal frontend; default TEMPORAL_ADDRESS, else the embedded dev server's 127.0.0.1:7233. */
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

/**
 * A client over its own Temporal connection, configured like the server it talks to (the same environment).
 * Payloads are encrypted with the server's master keys, found the same way as the server and the CLI find them
 * (MEMOIR_MASTER_KEYS, MEMOIR_MASTER_KEY_FILE, or the key file the embedded default made in the data directory);
 * their data keys are in the database, which the client then opens (DATABASE_URL, or the embedded PGlite through
 * the running server). Without database access it cannot list stored messages; everything that goes through the
 * workflow works. With PostgreSQL (DATABASE_URL) it also answers each turn as soon as it is stored, as the API does
 * (MEMOIR_REPLY_ON_COMMIT).
 */
export async function createMemoirClient(
  opts: ConnectOptions = {},
): Promise<{ memoir: MemoirClient; close(): Promise<void> }> {
  const config = loadConfig();
  const db = hasMasterKeys(config) || config.replyOnCommit ? (await openDatabase(config)).db : undefined;
  let replies: StoredReplies | undefined;
  try {
    replies = db ? await storedReplies(config, db, loggerFor(config)) : undefined;
    const dataConverter = db ? clientDataConverter(config, db) : undefined;
    const address = opts.address ?? config.temporal.address ?? `127.0.0.1:${config.temporal.devServerPort}`;
    const connection = await Connection.connect({ address });
    const client = new Client({
      connection,
      namespace: opts.namespace ?? config.temporal.namespace,
      ...(dataConverter ? { dataConverter } : {}),
    });
    const memoir = new MemoirClient({
      client,
      taskQueue: opts.taskQueue ?? config.temporal.taskQueue,
      policy: config.policy,
      userSearchKey: userSearchKeyFrom(redactionKey(config.redaction.key, config.dataDir)),
      ...replies?.options,
    });
    const opened = replies;
    const close = async () => {
      try {
        await connection.close();
      } finally {
        await opened?.close();
        await db?.close();
      }
    };
    return { memoir, close };
  } catch (err) {
    await replies?.close();
    await db?.close();
    throw err;
  }
}
