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

/**
 * Whether turns are announced and answered from the store: MEMOIR_REPLY_ON_COMMIT on PostgreSQL, and replies stored as
 * the model wrote them (redacted at the store stage, they are not the reply: those come by update).
 */
export function repliesOnCommit(config: Config): boolean {
  return config.replyOnCommit && !textPolicy(config).applies('store');
}

export async function storedReplies(config: Config, db: Db, log: Logger): Promise<StoredReplies> {
  if (!repliesOnCommit(config)) return { options: {}, close: async () => {} };
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
