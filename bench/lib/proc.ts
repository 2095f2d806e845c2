/**
 * CPU time of processes from /proc (Linux): a process, a process tree (PostgreSQL's postmaster and its backends),
 * the whole machine, and the benchmark's own Temporal server and PostgreSQL found by the ports they listen on.
 */
import fs from 'node:fs';
import type { BenchInfra } from './infra';

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

export interface ProcTimes {
  /** utime + stime of the process (ms). */
  own: number;
  /** cutime + cstime: children it has reaped (ms). */
  reaped: number;
  ppid: number;
}

export function procTimes(pid: number, file = `/proc/${pid}/stat`): ProcTimes | undefined {
  try {
    const stat = fs.readFileSync(file, 'utf8');
    // The name in field 2 may hold spaces: count from the closing parenthesis (field 3 is at index 0).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      own: (Number(f[11]) + Number(f[12])) * TICK_MS,
      reaped: (Number(f[13]) + Number(f[14])) * TICK_MS,
    };
  } catch {
    return undefined; // exited meanwhile
  }
}

export function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * CPU a process tree has used: the root's own and reaped-children time plus its live children's own time (a
 * PostgreSQL backend that exits is added to the postmaster's reaped time, so nothing is lost or counted twice).
 */
export function treeCpuMs(root: number): number {
  const r = procTimes(root);
  if (!r) return NaN;
  let total = r.own + r.reaped;
  for (const pid of allPids()) {
    const t = pid === root ? undefined : procTimes(pid);
    if (t?.ppid === root) total += t.own + t.reaped;
  }
  return total;
}

/** The first process whose command line matches, or undefined. */
export function findPid(match: (cmd: string) => boolean): number | undefined {
  return allPids().find((pid) => pid !== process.pid && match(cmdline(pid)));
}

/** Total CPU of the machine (all cores, busy time only) from /proc/stat, ms. */
export function machineBusyMs(): number {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
  return busy * TICK_MS;
}

/**
 * The benchmark's own Temporal dev server and PostgreSQL postmaster, by the ports in `infra` (either may be missing:
 * the shared test services run elsewhere, or under another user).
 */
export function serverPids(infra: BenchInfra): { temporal?: number; postmaster?: number } {
  const temporalPort = infra.temporalAddress.split(':')[1]!;
  const temporal = findPid((c) => c.includes('start-dev') && c.includes(`--port ${temporalPort}`));
  const pgPort = new URL(infra.adminDatabaseUrl).port;
  const postmaster = findPid((c) => /\/postgres\s/.test(c) && c.includes(`-p ${pgPort}`));
  return { ...(temporal ? { temporal } : {}), ...(postmaster ? { postmaster } : {}) };
}

/**
 * The shared services the benchmark also leans on (Redis, Weaviate), by the ports the test services listen on.
 * The durable mode runs its own Temporal and PostgreSQL but shares these two with the tests.
 */
export function sharedServicePids(redisPort: string, weaviatePort: string): { redis?: number; weaviate?: number } {
  const redis = findPid((c) => c.startsWith('redis-server') && c.includes(`:${redisPort}`));
  const weaviate = findPid((c) => c.includes('weaviate-server') && c.includes(`--port ${weaviatePort}`));
  return { ...(redis ? { redis } : {}), ...(weaviate ? { weaviate } : {}) };
}

/** This process's CPU (user + system), ms: the load generator, the in-process client and the offline model. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
