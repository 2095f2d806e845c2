/**
 * The fault tests' lock-waiter reader (test/helpers/lock-waiters.ts) sees a backend that connected after the lock
 * holder's first read of pg_stat_activity: without that, a test cutting a write that a pool sent on a new
 * connection waited for its timeout (what looked like a `pg` pool stall after pg_terminate_backend).
 */
import pg from 'pg';
import { lockWaiters } from './helpers/lock-waiters';
import { freshDatabase } from './helpers/stack';

it('sees a waiter that connected after the holder first looked', async () => {
  const database = await freshDatabase();
  const holder = new pg.Client({ connectionString: database.url });
  const late = new pg.Client({ connectionString: database.url });
  try {
    await holder.connect();
    await holder.query('CREATE TABLE held (x int)');
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
    expect(await lockWaiters(holder)).toEqual([]);
    await late.connect();
    const pid = (await late.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const blocked = late.query('SELECT * FROM held');
    await vi.waitFor(async () => expect(await lockWaiters(holder, 'relation')).toEqual([pid]), {
      timeout: 10_000,
      interval: 50,
    });
    await holder.query('ROLLBACK');
    await blocked;
  } finally {
    await Promise.all([holder.end(), late.end()]);
    await database.drop();
  }
});
