/**
 * Removes every run of a workflow from Temporal (DeleteWorkflowExecution): terminating it alone would leave its
 * histories, and whatever their payloads and search attributes say, readable until namespace retention. Deletion
 * is asynchronous on the server; a run already gone is not an error.
 */
import { isGrpcServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';

// gRPC status NOT_FOUND (grpc-js is not a direct dependency).
const NOT_FOUND = 5;
const notFound = (err: unknown) => isGrpcServiceError(err) && Number(err.code) === NOT_FOUND;

/**
 * Deletes every run of the workflow (the server terminates a running one first); returns whether a run was running
 * (ended) and how many runs were deleted. Collected again after deleting, in case a run started meanwhile (a
 * message arriving during the erasure, a continue-as-new).
 */
export async function deleteWorkflowRuns(
  client: Client,
  workflowId: string,
): Promise<{ ended: number; deleted: number }> {
  const namespace = client.options.namespace;
  const deleted = new Set<string>();
  let ended = 0;
  for (let round = 0; round < 3; round++) {
    try {
      const latest = await client.workflow.getHandle(workflowId).describe();
      if (latest.status.name === 'RUNNING' && !deleted.has(latest.runId)) ended = 1;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    const fresh = [...(await runsOf(client, workflowId))].filter((runId) => !deleted.has(runId));
    if (fresh.length === 0) break;
    for (const runId of fresh) {
      try {
        await client.workflowService.deleteWorkflowExecution({ namespace, workflowExecution: { workflowId, runId } });
      } catch (err) {
        if (!notFound(err)) throw err;
      }
      deleted.add(runId);
    }
  }
  return { ended, deleted: deleted.size };
}

/**
 * Run ids of a workflow: those visibility lists (each start of the id), and the chain of continued-as-new runs
 * behind the latest one, read from history (visibility may not list a run started a moment ago).
 */
async function runsOf(client: Client, workflowId: string): Promise<Set<string>> {
  const runIds = new Set<string>();
  const query = `WorkflowId = '${workflowId.replace(/'/g, "''")}'`;
  for await (const wf of client.workflow.list({ query })) runIds.add(wf.runId);
  let runId: string | undefined;
  try {
    runId = (await client.workflow.getHandle(workflowId).describe()).runId;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  while (runId && !runIds.has(runId)) {
    runIds.add(runId);
    runId = await previousRun(client, workflowId, runId);
  }
  // A run visibility listed may itself continue one it did not list yet.
  for (const known of [...runIds]) {
    let previous = await previousRun(client, workflowId, known);
    while (previous && !runIds.has(previous)) {
      runIds.add(previous);
      previous = await previousRun(client, workflowId, previous);
    }
  }
  return runIds;
}

/** The run this run continued as new from, from its first history event. */
async function previousRun(client: Client, workflowId: string, runId: string): Promise<string | undefined> {
  try {
    const res = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    return res.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}
