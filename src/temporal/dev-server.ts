/**
 * The embedded Temporal: a file-backed `temporal server start-dev` on loopback, with the project's search
 * attributes and dynamic config, started when TEMPORAL_ADDRESS is unset. A server already listening on the port
 * (an earlier `serve --keep`) is reused rather than started twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';

const CONFIG_DIR = path.join(__dirname, '..', '..', 'temporal-config');

export interface DevServerOptions {
  cli?: string | undefined;
  dataDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  /** Extra `--dynamic-config-value` pairs (tests lower continue-as-new thresholds with them). */
  dynamicConfig?: Record<string, unknown>;
  /** Progress messages for the person waiting. */
  onProgress?: (message: string) => void;
  /** Codec server the UI decodes payloads with. */
  codecEndpoint?: string;
  /** Port of the server's Prometheus `/metrics` (a free one when absent). */
  metricsPort?: number;
  /** Port of the server's HTTP API (a free one the CLI picks when absent, which can race a port just freed). */
  httpPort?: number;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  /** False when an already running server was reused: stop() then leaves it alone. */
  owned: boolean;
  stop(): Promise<void>;
}

/** TEMPORAL_CLI, then `temporal` on PATH, then `$GOPATH/bin/temporal` (where `go install` puts it). */
export function findTemporalCli(explicit?: string): string | undefined {
  const candidates = [
    explicit,
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'temporal')),
    path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin', 'temporal'),
  ];
  return candidates.find((c): c is string => !!c && isExecutable(c));
}

export function searchAttributeFlags(): string[] {
  const attrs = JSON.parse(fs.readFileSync(path.join(CONFIG_DIR, 'search-attributes.json'), 'utf8')) as Record<
    string,
    string
  >;
  return Object.entries(attrs).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

interface DevServerConfig {
  dynamicConfig: Record<string, unknown>;
  sqlitePragmas: Record<string, string>;
}

function devServerConfig(): DevServerConfig {
  return JSON.parse(fs.readFileSync(path.join(CONFIG_DIR, 'dev-server.json'), 'utf8')) as DevServerConfig;
}

export function dynamicConfigFlags(extra: Record<string, unknown> = {}): string[] {
  return Object.entries({ ...devServerConfig().dynamicConfig, ...extra }).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

/**
 * `--sqlite-pragma` flags of a file-backed server: a write-ahead log, synced at checkpoints rather than at every
 * commit. A crash of the server process loses nothing; a crash of the machine (or power loss) can lose the last
 * commits before the checkpoint — the history of the newest turns — but never corrupts the database.
 */
export function sqlitePragmaFlags(): string[] {
  return Object.entries(devServerConfig().sqlitePragmas).flatMap(([key, value]) => [
    '--sqlite-pragma',
    `${key}=${value}`,
  ]);
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const address = `127.0.0.1:${opts.port}`;
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  const progress = opts.onProgress ?? (() => undefined);
  if (await isListening(opts.port)) {
    await waitForTemporal(address, 10_000);
    progress(`Reusing the Temporal dev server already running at ${address}`);
    return { address, uiUrl, owned: false, stop: async () => undefined };
  }
  const cli = findTemporalCli(opts.cli);
  if (!cli) {
    throw new Error(
      'No Temporal CLI found. Run `make temporal-cli` (builds it with Go), put `temporal` on PATH, or set TEMPORAL_CLI; ' +
        'or point TEMPORAL_ADDRESS at a running server.',
    );
  }
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(opts.dataDir, 'temporal-dev-server.log');
  const out = fs.openSync(logFile, 'a');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    path.join(opts.dataDir, 'temporal.db'),
    ...sqlitePragmaFlags(),
    '--log-level',
    'warn',
    ...(opts.namespace === 'default' ? [] : ['--namespace', opts.namespace]),
    ...(opts.codecEndpoint ? ['--ui-codec-endpoint', opts.codecEndpoint] : []),
    ...(opts.metricsPort ? ['--metrics-port', String(opts.metricsPort)] : []),
    ...(opts.httpPort ? ['--http-port', String(opts.httpPort)] : []),
    ...searchAttributeFlags(),
    ...dynamicConfigFlags(opts.dynamicConfig),
  ];
  progress(`Starting the Temporal dev server (${cli}) on ${address}, UI ${uiUrl}, data in ${opts.dataDir}`);
  const child = spawn(cli, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  // If this process dies without stopping the server, do not leave an orphan holding the port.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await Promise.race([
      waitForTemporal(address, 60_000),
      exited.then((code) => {
        throw new Error(`the Temporal dev server exited (code ${code}); see ${logFile}:\n${tail(logFile)}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    uiUrl,
    owned: true,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      await stopChild(child, exited);
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Waits until a Temporal frontend answers at `address`. */
export async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
