/**
 * The embedded PGlite database served to other processes over the PostgreSQL wire protocol, so `memoir show`,
 * `cost`, `ls`, `keys`, `erase` (or `psql`) can read it while `memoir serve` owns it. PGlite is one connection in
 * one process; this front end, on loopback only, gives each client the database in turns:
 *
 * - a password (cleartext over loopback, checked in constant time) before PGlite sees anything;
 * - a client's messages up to its `Sync`/`Query` run as one batch under PGlite's own locks, so the owner's queries
 *   never slip between a client's Parse and Execute — and a client's transaction keeps the locks until it ends.
 *
 * The per-message relay is what `@electric-sql/pglite-socket` does (same `execProtocolRawStream`); it has no
 * authentication and releases the lock between the messages of one query, hence this small front end.
 */
import { timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
/** A client holding a transaction open this long with nothing sent is rolled back and dropped. */
const IDLE_IN_TRANSACTION_MS = 30_000;

export interface PgliteServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `db` on 127.0.0.1 (a free port unless given) to clients that present `password`. */
export async function servePglite(db: PGlite, password: string, port = 0): Promise<PgliteServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    new WireSession(db, socket, password).run().catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    host: '127.0.0.1',
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** PGlite's transaction and query locks, in the order its own `transaction()` takes them. */
type Locking = PGlite & { _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T> };

class WireSession {
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(
    private readonly db: PGlite,
    private readonly socket: net.Socket,
    private readonly password: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    socket.once('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async run(): Promise<void> {
    const startup = await this.startup();
    if (!startup) {
      this.socket.destroy();
      return;
    }
    // AuthenticationCleartextPassword, then the client's PasswordMessage.
    this.socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
    const reply = await this.message();
    if (!reply || reply[0] !== 0x70 || !this.passwordMatches(reply.subarray(5, reply.length - 1))) {
      return this.fail('28P01', 'password authentication failed (the password is in pglite-server.json)');
    }
    await this.exclusive(async () => this.exec(startup));
    for (;;) {
      const batch = await this.batch();
      if (!batch) {
        this.socket.end();
        return;
      }
      await this.exclusive(async () => {
        for (const m of batch) await this.exec(m);
        // A transaction the client opened keeps the locks: nothing of the owner's may run inside it.
        while (this.db.isInTransaction()) {
          const next = await this.batch(IDLE_IN_TRANSACTION_MS);
          if (!next) {
            // As a raw message: `db.exec` would wait for the locks this session holds.
            await this.db.execProtocolRawStream(simpleQuery('ROLLBACK'), { onRawData: () => undefined });
            this.socket.destroy();
            return;
          }
          for (const m of next) await this.exec(m);
        }
      });
    }
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const db = this.db as Locking;
    return db._runExclusiveTransaction(() => db.runExclusive(fn));
  }

  private exec(message: Buffer): Promise<void> {
    return this.db.execProtocolRawStream(new Uint8Array(message), {
      onRawData: (data) => void (this.socket.writable && this.socket.write(Buffer.from(data))),
    });
  }

  private passwordMatches(given: Buffer): boolean {
    const expected = Buffer.from(this.password);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** The startup message, answering SSL and GSS requests with "no" (loopback only); undefined if the client left. */
  private async startup(): Promise<Buffer | undefined> {
    for (;;) {
      if (!(await this.have(8))) return undefined;
      const length = this.buffer.readInt32BE(0);
      if (length < 8 || length > 10_000 || !(await this.have(length))) return undefined;
      const code = this.buffer.readInt32BE(4);
      const message = this.take(length);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) this.socket.write('N');
      else return code === PROTOCOL_3 ? message : undefined;
    }
  }

  /** One typed message (type byte, length, body); undefined if the client left. */
  private async message(timeoutMs?: number): Promise<Buffer | undefined> {
    if (!(await this.have(5, timeoutMs))) return undefined;
    const length = this.buffer.readInt32BE(1) + 1;
    if (!(await this.have(length, timeoutMs))) return undefined;
    return this.take(length);
  }

  /** Messages up to and including a Sync or a simple Query; undefined on Terminate or when the client left. */
  private async batch(timeoutMs?: number): Promise<Buffer[] | undefined> {
    const batch: Buffer[] = [];
    for (;;) {
      const m = await this.message(timeoutMs);
      if (!m || m[0] === 0x58 /* X */) return undefined;
      batch.push(m);
      if (m[0] === 0x53 /* S */ || m[0] === 0x51 /* Q */) return batch;
    }
  }

  private async have(bytes: number, timeoutMs?: number): Promise<boolean> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    while (this.buffer.length < bytes) {
      if (this.ended) return false;
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = left === undefined ? undefined : setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return true;
  }

  private take(bytes: number): Buffer {
    const out = this.buffer.subarray(0, bytes);
    this.buffer = this.buffer.subarray(bytes);
    return out;
  }

  private fail(code: string, message: string): void {
    const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
    const head = Buffer.alloc(5);
    head[0] = 0x45; // E
    head.writeInt32BE(fields.length + 4, 1);
    this.socket.end(Buffer.concat([head, fields]));
  }
}

/** A simple-protocol Query message. */
function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`);
  const head = Buffer.alloc(5);
  head[0] = 0x51; // Q
  head.writeInt32BE(text.length + 4, 1);
  return new Uint8Array(Buffer.concat([head, text]));
}
