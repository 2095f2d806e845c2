/**
 * A loopback port free at the moment of asking, for the processes the tooling starts (tests, benchmark, checks):
 * the OS picks it, so parallel runs never collide on a fixed number.
 */
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
