/**
 * The Temporal SDK's Prometheus endpoint of a worker is bound like every other listener: loopback unless the
 * deployment binds wider (MEMOIR_API_HOST).
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/free-port';
import { startStack, type Stack } from './helpers/stack';
import { WorkerProcess } from './helpers/worker-process';

/** An address of this machine that is not loopback: a listener on all interfaces answers there too. */
const external = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, api: false });
});
afterAll(() => stack?.stop());

it.skipIf(!external)('serves worker SDK metrics on loopback only by default', async () => {
  const port = await freePort();
  const worker = new WorkerProcess({
    env: stack.env,
    logFile: path.join(path.dirname(stack.logFile), 'worker.out'),
    temporalMetricsPort: port,
  });
  await worker.start();
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await connects(external!, port)).toBe(false);
  } finally {
    await worker.stop();
  }
});
