/**
 * Where and on what a benchmark ran: the git commit (and whether the tree had local changes), the machine, the
 * runtime. Every result file and every figure carries it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Provenance {
  commit: string;
  /** True when tracked files differed from the commit (the numbers are for commit + local changes). */
  dirty: boolean;
  date: string;
  machine: {
    cores: number;
    cpu: string;
    memoryGiB: number;
    os: string;
    node: string;
    /** 1-minute load average when the run started: other work on the machine skews latency figures. */
    loadAverage1m: number;
  };
  services: Record<string, string>;
}

const ROOT = path.join(__dirname, '..', '..');

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function serviceVersions(): Record<string, string> {
  const read = (p: string) => {
    try {
      return (
        JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    temporalSdk: read('@temporalio/worker'),
    anthropicSdk: read('@anthropic-ai/sdk'),
    pg: read('pg'),
  };
}

export function provenance(): Provenance {
  const commit = git(['rev-parse', '--short=12', 'HEAD']) ?? 'unknown';
  const dirty = (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  return {
    commit,
    dirty,
    date: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100,
    },
    services: serviceVersions(),
  };
}

/** One line for a figure's footer. */
export function provenanceLine(p: Provenance, mode: string): string {
  const m = p.machine;
  return `Memoir ${p.commit}${p.dirty ? '+local changes' : ''} · ${p.date.slice(0, 16).replace('T', ' ')} UTC · ${mode} · ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB · Node ${m.node}`;
}
