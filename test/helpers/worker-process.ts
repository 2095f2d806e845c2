/**
 * A Memoir worker in a child process — the real `memoir worker` verb, configured from the environment exactly as a
 * deployment would be — that a test can SIGKILL at any moment and replace, as an orchestrator would after a crash.
 *
 * It runs as `node --import tsx src/cli/main.ts worker` rather than through `node_modules/.bin/tsx`: that launcher
 * starts the program in a second process and only relays catchable signals, so a SIGKILL would leave the actual
 * worker running as an orphan.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
/** What `serve` prints on stderr once the worker is polling its task queue. */
const READY_LINE = 'memoir is running';

export interface WorkerProcessOptions {
  /** The stack's environment (database, Temporal address, task queue, model URL...). */
  env: Record<string, string>;
  /** Where both output streams of every incarnation go, appended. */
  logFile: string;
  readyTimeoutMs?: number;
  /**
   * Start a new worker whenever one exits without being told to (as an orchestrator restarts a crashed process).
   * Each such exit is counted in `crashes`, with the tail of its stderr in `crashReports`.
   */
  restartOnCrash?: boolean;
  /** Port of the Temporal SDK's metrics (default 0: off, so that workers never fight over a fixed port). */
  temporalMetricsPort?: number;
}

/** How long a crashed worker is restarted for before the harness gives up on it. */
const RESTART_FOR_MS = 5 * 60_000;

export class WorkerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;
  /** How many incarnations were started and how many were killed. */
  starts = 0;
  kills = 0;
  /** Exits nobody asked for, and the end of what each printed on stderr. */
  crashes = 0;
  readonly crashReports: string[] = [];

  constructor(private readonly opts: WorkerProcessOptions) {}

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts a worker and resolves once it polls (bounded by `readyTimeoutMs`, default 90 s). */
  async start(): Promise<void> {
    if (this.running) throw new Error('worker process already running');
    this.stopping = false;
    const log = fs.createWriteStream(this.opts.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...this.opts.env,
        // Two workers (or a worker and the test) must not fight over fixed metrics ports.
        MEMOIR_METRICS_PORT: '0',
        MEMOIR_TEMPORAL_METRICS_PORT: String(this.opts.temporalMetricsPort ?? 0),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout.pipe(log, { end: false });
    let seen = '';
    let isReady = false;
    child.once('exit', (code, signal) => {
      if (this.stopping || !isReady) return;
      this.crashes++;
      // The error lines, not the stack frames.
      const said = seen
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('at ') && !/^[\^[]/.test(l));
      this.crashReports.push(`exit code ${code}, signal ${signal}: ${said.slice(-6).join(' | ')}`);
      if (this.opts.restartOnCrash) void this.restartUntilUp();
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        log.write(chunk);
        seen = (seen + chunk.toString()).slice(-4096);
        if (seen.includes(READY_LINE)) {
          isReady = true;
          seen = '';
          resolve();
        }
      });
      child.once('exit', (code, signal) =>
        reject(
          new Error(`worker exited before it was ready (code ${code}, signal ${signal}); see ${this.opts.logFile}`),
        ),
      );
    });
    void this.exited.then(() => log.end());
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.opts.readyTimeoutMs ?? 90_000;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`worker not ready within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (err) {
      if (this.running) {
        child.kill('SIGKILL');
        await this.exited;
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * After a crash: start again, and again while starts fail (a dependency may still be down), until stopped or
   * for at most 5 minutes — then the failure is reported in `crashReports` and the worker stays down.
   */
  private async restartUntilUp(): Promise<void> {
    const giveUpAt = Date.now() + RESTART_FOR_MS;
    while (!this.stopping && !this.running) {
      if (Date.now() > giveUpAt) {
        this.crashReports.push(`no restart succeeded within ${RESTART_FOR_MS / 60_000} min`);
        return;
      }
      await new Promise((r) => setTimeout(r, 1_000));
      if (this.stopping) return;
      await this.start().catch(() => undefined);
    }
  }

  /**
   * SIGKILL: no shutdown hook runs, in-flight activities and workflow tasks are simply abandoned. False when no
   * worker was running to kill.
   */
  async kill(): Promise<boolean> {
    this.stopping = true;
    if (!this.running) return false;
    this.child!.kill('SIGKILL');
    this.kills++;
    await this.exited;
    return true;
  }

  /** A graceful stop (SIGTERM), forced after 20 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    const child = this.child!;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}
