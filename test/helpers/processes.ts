/**
 * Dedicated service processes for tests that stop and restart them (the shared test services must stay up for
 * everyone else). Each binds loopback ports of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/free-port';

export { freePort };

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready`);
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/** A service process that can be stopped and started again on the same ports and data. */
export class Restartable {
  private child: ChildProcess | undefined;
  constructor(
    private readonly launch: () => ChildProcess,
    private readonly ready: () => Promise<boolean>,
    readonly name: string,
  ) {}

  async start(): Promise<void> {
    this.child = this.launch();
    await waitFor(this.ready, this.name);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }
}

export async function redisProcess(): Promise<{ url: string; proc: Restartable }> {
  const port = await freePort();
  const proc = new Restartable(
    () =>
      spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      }),
    () => portOpen(port),
    'redis',
  );
  await proc.start();
  return { url: `redis://127.0.0.1:${port}`, proc };
}

function weaviateBinary(): string {
  const gobin = path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin', 'weaviate-server');
  return process.env.WEAVIATE_SERVER ?? gobin;
}

export async function weaviateProcess(): Promise<{
  url: string;
  grpcPort: number;
  proc: Restartable;
  dataDir: string;
}> {
  const [http, grpc, gossip, data, raft, raftRpc] = (await Promise.all(
    Array.from({ length: 6 }, () => freePort()),
  )) as [number, number, number, number, number, number];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-weaviate-'));
  const env = {
    ...process.env,
    PERSISTENCE_DATA_PATH: dataDir,
    AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: 'true',
    DEFAULT_VECTORIZER_MODULE: 'none',
    ENABLE_MODULES: '',
    CLUSTER_HOSTNAME: 'node1',
    CLUSTER_ADVERTISE_ADDR: '127.0.0.1',
    CLUSTER_GOSSIP_BIND_PORT: String(gossip),
    CLUSTER_DATA_BIND_PORT: String(data),
    RAFT_PORT: String(raft),
    RAFT_INTERNAL_RPC_PORT: String(raftRpc),
    RAFT_JOIN: 'node1',
    RAFT_BOOTSTRAP_EXPECT: '1',
    GRPC_PORT: String(grpc),
    DISABLE_TELEMETRY: 'true',
    LOG_LEVEL: 'warning',
    PROMETHEUS_MONITORING_ENABLED: 'false',
  };
  const proc = new Restartable(
    () =>
      spawn(weaviateBinary(), ['--host', '127.0.0.1', '--port', String(http), '--scheme', 'http'], {
        env,
        stdio: 'ignore',
      }),
    async () => (await fetch(`http://127.0.0.1:${http}/v1/.well-known/ready`)).ok,
    'weaviate',
  );
  await proc.start();
  return { url: `http://127.0.0.1:${http}`, grpcPort: grpc, proc, dataDir };
}
