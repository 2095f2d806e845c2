/**
 * `memoir replay`: replays a conversation's recorded history against the workflow code in this checkout (or
 * another entry given by `--workflows`), fetched from the server or read from an exported file. Exit code 0 when
 * it replays, 3 when the code is no longer deterministic with respect to it (the report names the event and the
 * command that diverged), 1 for anything else.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError, type DataConverter } from '@temporalio/common';
import { fetchHistory, readHistoryFile, type History } from '../replay/history';
import { describeOutcome, replayHistory, type ReplayOutcome, type ReplaySource } from '../replay/replay';
import { CliError, ExitCodes } from './errors';

export type ReplayTarget = { file: string } | { workflowId: string; runId?: string | undefined; client: Client };

/** Replays once; the report says what happened and the exit code says it to scripts. */
export async function replay(
  target: ReplayTarget,
  source: ReplaySource,
  dataConverter?: DataConverter,
): Promise<{ report: string; exitCode: number; outcome: ReplayOutcome }> {
  const { history, what, workflowId } = await load(target);
  const outcome = await replayHistory(history, {
    source,
    ...(workflowId ? { workflowId } : {}),
    ...(dataConverter ? { dataConverter } : {}),
  });
  const exitCode = outcome.ok ? 0 : outcome.kind === 'nondeterminism' ? ExitCodes.nondeterminism : ExitCodes.failure;
  return { report: describeOutcome(outcome, what), exitCode, outcome };
}

/** `--workflows <entry>` or the code the worker runs. */
export function replaySource(workflowsPath: string | undefined, defaultPath: string): ReplaySource {
  return { workflowsPath: workflowsPath ? path.resolve(workflowsPath) : defaultPath };
}

async function load(target: ReplayTarget): Promise<{ history: History; what: string; workflowId?: string }> {
  if ('file' in target) return { history: readHistoryFile(target.file), what: target.file };
  try {
    // The latest run unless one is named; pinned first so the report names the run it replayed.
    const runId = target.runId ?? (await target.client.workflow.getHandle(target.workflowId).describe()).runId;
    const history = await fetchHistory(target.client, target.workflowId, runId);
    return { history, what: `${target.workflowId} (run ${runId})`, workflowId: target.workflowId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`no workflow ${target.workflowId}${target.runId ? ` with run ${target.runId}` : ''}`);
    }
    throw err;
  }
}
