/**
 * A loopback port free at the moment of asking, for the processes the tooling starts (tests, benchmark, checks):
 * the OS picks it, so parallel runs never collide on a fixed number.
 */
import net from 'node:net';

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!; // freePorts(1) always finds one port or throws
}

/**
 * `count` distinct free ports: each is held until all are found, so the OS cannot hand the same one out twice (it
 * may reuse a port released a moment ago).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
