/** Ports for the processes tooling starts: distinct when asked together, and free to bind. */
import net from 'node:net';
import { freePorts } from '../src/free-port';

it('hands out distinct ports that can be bound', async () => {
  const ports = await freePorts(6);
  expect(new Set(ports).size).toBe(6);
  for (const port of ports) {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  }
});
