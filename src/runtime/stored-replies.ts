/**
 * What lets a `MemoirClient` outside the server answer a turn from PostgreSQL as soon as it is stored, as the API's
 * does (reply on commit, src/storage/turn-notices.ts): the stored turns, read with the server's keys, and a
 * listening connection for the notices. Only with MEMOIR_REPLY_ON_COMMIT on a PostgreSQL server; else nothing, and
 * replies come by update.
 */
import type { MemoirClientOptions } from '../client/memoir-client';
import type { Config } from '../config';
import type { Logger } from '../log';
import { ConversationStore } from '../storage/conversations';
import type { Db } from '../storage/db';
import { TurnNotices } from '../storage/turn-notices';
import { clientSealer } from './encryption';
import { textPolicy } from './privacy';

export interface StoredReplies {
  options: Pick<MemoirClientOptions, 'conversations' | 'repliesStoredVerbatim' | 'storedTurns'>;
  close(): Promise<void>;
}

export async function storedReplies(config: Config, db: Db, log: Logger): Promise<StoredReplies> {
  // Replies redacted at the store stage are not the replies the model wrote: those come by update.
  if (!config.replyOnCommit || textPolicy(config).applies('store')) return { options: {}, close: async () => {} };
  const notices = new TurnNotices(config.databaseUrl!, log);
  await notices.listen().catch((err: unknown) => log.warn({ err }, 'not listening for stored turns yet'));
  return {
    options: {
      conversations: new ConversationStore(db, clientSealer(config, db)),
      repliesStoredVerbatim: true,
      storedTurns: notices,
    },
    close: () => notices.close(),
  };
}
