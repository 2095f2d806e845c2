/**
 * Replays a recorded history against workflow code, as a worker would after a restart, and says whether the code
 * still produces the same commands. The check that guards every change to `workflows/`.
 */
import type { DataConverter } from '@temporalio/common';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { type Divergence, findDivergence } from './divergence';
import type { History } from './history';

/** Where the workflow code under test is: a source entry to bundle, or a prebuilt bundle. */
export type ReplaySource = Pick<ReplayWorkerOptions, 'workflowsPath'> | Pick<ReplayWorkerOptions, 'workflowBundle'>;

export type ReplayOutcome =
  | { ok: true; events: number }
  /** The code no longer matches the history: a deployment would fail this run's next workflow task. */
  | { ok: false; kind: 'nondeterminism'; events: number; divergence: Divergence; message: string }
  /** Anything else (the workflow threw during replay, a malformed history…). */
  | { ok: false; kind: 'error'; events: number; message: string };

export interface ReplayOptions {
  source: ReplaySource;
  /** Histories carry no workflow id; workflows that read it need the real one. */
  workflowId?: string;
  /** The worker's codec, for a history whose payloads are encrypted. */
  dataConverter?: DataConverter;
}

/** Replays one history; never throws for a replay failure, only reports it. */
export async function replayHistory(history: History, opts: ReplayOptions): Promise<ReplayOutcome> {
  const events = history.events?.length ?? 0;
  try {
    const options = opts.dataConverter ? { ...opts.source, dataConverter: opts.dataConverter } : opts.source;
    await Worker.runReplayHistory(options, history, opts.workflowId);
    return { ok: true, events };
  } catch (err) {
    return outcomeOf(err, history);
  }
}

function outcomeOf(err: unknown, history: History): ReplayOutcome {
  const events = history.events?.length ?? 0;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof DeterminismViolationError) {
    return { ok: false, kind: 'nondeterminism', events, message, divergence: findDivergence(message, history) };
  }
  return { ok: false, kind: 'error', events, message };
}

/** A one-line, human summary of an outcome, as `memoir replay` prints it. */
export function describeOutcome(outcome: ReplayOutcome, what: string): string {
  if (outcome.ok) return `OK: ${what} replays deterministically (${outcome.events} events)`;
  if (outcome.kind === 'error') return `FAILED: ${what} could not be replayed: ${taskFailure(outcome.message)}`;
  const d = outcome.divergence;
  const at = d.eventId !== undefined ? `event ${d.eventId} (${d.eventType ?? 'unknown type'})` : 'an unnamed event';
  return [
    `NON-DETERMINISTIC: ${what} diverges at ${at}`,
    `  history: ${d.expected ?? d.eventType ?? 'unknown'}`,
    `  code:    ${d.command ?? 'unknown'}`,
    `  core:    ${d.detail}`,
  ].join('\n');
}

/**
 * A replay that failed its workflow task (the code threw) carries Core's debug dump of the failure; the error and
 * the first frames of its stack outside node_modules say what happened.
 */
function taskFailure(message: string): string {
  const reason = /message: "((?:[^"\\]|\\.)*)"/.exec(message)?.[1];
  if (!reason) return message;
  const stack = (/stack_trace: "((?:[^"\\]|\\.)*)"/.exec(message)?.[1] ?? '')
    .replace(/\\n/g, '\n')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .map((line) => `  ${line.trim()}`);
  // The project's own frames say where; the SDK's only how.
  const own = stack.filter((line) => /[( ]\//.test(line) && !line.includes('node_modules'));
  return [`the workflow threw: ${reason}`, ...(own.length > 0 ? own : stack).slice(0, 4)].join('\n');
}
