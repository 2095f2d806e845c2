/**
 * "The answer to this message is stored": a notice from the activity that committed a turn to the clients waiting
 * for its reply, over PostgreSQL's LISTEN/NOTIFY. A client that hears it reads the stored turn at once, instead of
 * waiting for the workflow to complete the update: the activity's completion and a workflow task later (what that
 * saves, measured: docs/operations.md, "Reply on commit").
 *
 * The notice carries only the turn's key, never its text, and it is a hint: it is sent after the turn's statement
 * committed (so whoever hears it reads the turn), and it can be lost (a listener reconnecting, a pooler in
 * transaction mode, which does not pass notifications on). A waiter that hears nothing gets the reply from the
 * update, as without notices.
 */
import pg from 'pg';
import type { Logger } from '../log';
import { channelKey, type TurnChannel } from '../streaming/bus';
import type { Queryable } from './db';

export const TURN_STORED_CHANNEL = 'memoir_turn_stored';
/** The listening connection's `application_name`. */
export const LISTENER_NAME = 'memoir-turn-notices';

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/** Tells every listening process that the answer to `turn` is stored. */
export async function announceTurnStored(db: Queryable, turn: TurnChannel): Promise<void> {
  // A statement of its own, after the turn's commit: a NOTIFY inside the turn's statement would hold PostgreSQL's
  // notification lock, which serialises notifying commits, across the turn's WAL flush.
  await db.query('SELECT pg_notify($1, $2)', [TURN_STORED_CHANNEL, channelKey(turn)]);
}

export interface TurnWatch {
  /** Resolves when the turn is announced as stored; never, when its notice is lost. */
  stored: Promise<void>;
  /** Stops waiting (the reply came the other way). */
  cancel(): void;
}

/**
 * One listening connection per process, shared by every waiting turn. It connects on the first `watch` (or
 * `listen`) and reconnects after losing its server, with backoff; turns that end meanwhile are answered by their
 * update.
 */
export class TurnNotices {
  private readonly waiters = new Map<string, Set<() => void>>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
  ) {}

  /** Resolves once this process listens (rejects if it cannot now; it keeps trying in the background). */
  listen(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  watch(turn: TurnChannel): TurnWatch {
    this.listen().catch(() => undefined);
    const key = channelKey(turn);
    let heard!: () => void;
    const stored = new Promise<void>((resolve) => (heard = resolve));
    const set = this.waiters.get(key) ?? new Set();
    set.add(heard);
    this.waiters.set(key, set);
    const cancel = () => {
      set.delete(heard);
      if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
    };
    return { stored, cancel };
  }

  /** Whether this process listens now. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    // Named, so an operator sees it in pg_stat_activity for what it is: one idle connection per API process.
    const client = new pg.Client({
      connectionString: this.connectionString,
      keepAlive: true,
      application_name: LISTENER_NAME,
    });
    client.on('notification', (n) => {
      if (n.channel !== TURN_STORED_CHANNEL || !n.payload) return;
      for (const heard of this.waiters.get(n.payload) ?? []) heard();
    });
    // A lost connection is replaced; notices sent meanwhile are lost, and their turns answered by the update.
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.reconnectLater();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${TURN_STORED_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      this.reconnectLater();
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RECONNECT_MIN_MS;
  }

  private reconnectLater(): void {
    if (this.closed || this.retryTimer) return;
    this.log.warn({ retryInMs: this.retryMs }, 'not listening for stored turns: replies wait for their workflow task');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.listen().catch(() => undefined);
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
  }
}
