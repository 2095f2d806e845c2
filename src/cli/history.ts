/**
 * `memoir history export`: a run's workflow history as JSON on stdout — the format `temporal workflow show -o json`
 * writes and `memoir replay --file` (or `Worker.runReplayHistory`) reads. Payloads (message text among them) are
 * in it as stored in Temporal: treat an export like the conversation itself.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { fetchHistory, historyJson } from '../replay/history';
import { conversationWorkflowId } from '../../workflows/contract';
import { CliError } from './errors';

/**
 * `conversation/<tenant>/<id>` as given, or the workflow id of conversation `<id>` of `tenant`: the verbs take
 * either.
 */
export function workflowIdOf(idOrConversation: string, tenant: string): string {
  return idOrConversation.startsWith('conversation/')
    ? idOrConversation
    : conversationWorkflowId(tenant, idOrConversation);
}

export async function exportHistory(client: Client, workflowId: string, runId?: string): Promise<string> {
  try {
    return historyJson(await fetchHistory(client, workflowId, runId));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`no workflow ${workflowId}${runId ? ` with run ${runId}` : ''} on this Temporal server`);
    }
    throw err;
  }
}
