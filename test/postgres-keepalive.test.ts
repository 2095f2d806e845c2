/**
 * The PostgreSQL pool's connections carry TCP keepalive (src/storage/db.ts): without it a server that vanishes
 * without closing its sockets leaves a query waiting for ever while its activity keeps heartbeating. The kernel's
 * view of the socket, read with `ss` (iproute2), says whether the keepalive timer runs.
 */
import { execFileSync } from 'node:child_process';
import { openPostgres } from '../src/storage/db';
import { TEST_SERVICES } from './helpers/services';

const hasSs = (() => {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

it.runIf(hasSs)('opens every pool connection with TCP keepalive on', async () => {
  const db = openPostgres(TEST_SERVICES.databaseUrl, 2);
  try {
    // Two connections at once: the pool's second client too, not only its first.
    const ports = await Promise.all(
      [1, 2].map(() => db.query<{ port: number }>('SELECT inet_client_port() AS port, pg_sleep(0.05)')),
    );
    for (const [row] of ports) {
      const socket = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${row!.port} )`], {
        encoding: 'utf8',
      });
      expect(socket).toContain(`:${row!.port}`);
      expect(socket).toMatch(/timer:\(keepalive,/);
    }
  } finally {
    await db.close();
  }
});
