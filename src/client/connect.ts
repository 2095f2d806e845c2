/**
 * A `MemoirClient` over its own Temporal connection, for an application that has only the Temporal address:
 * no database, no payload keys (a server with payload encryption on needs the server package's
 * `createMemoirClient`, or the HTTP API).
 */
import { Client, Connection } from '@temporalio/client';
import type { ConversationPolicy } from '../../workflows/contract';
import { MemoirClient } from './memoir-client';
import type { UserSearchKey } from './ports';

export interface ConnectMemoirOptions {
  /** Temporal frontend; default TEMPORAL_ADDRESS, else 127.0.0.1:7233 (the embedded dev server's). */
  address?: string;
  /** Default TEMPORAL_NAMESPACE, else `default`. */
  namespace?: string;
  /** The workers' task queue; default MEMOIR_TASK_QUEUE, else `memoir`. */
  taskQueue?: string;
  /** Policy for conversations this client starts; default DEFAULT_POLICY. */
  policy?: ConversationPolicy;
  /** The workers' user search key, to list conversations by user (see `MemoirClientOptions.userSearchKey`). */
  userSearchKey?: UserSearchKey;
}

export interface ConnectedMemoirClient {
  memoir: MemoirClient;
  /** Closes the Temporal connection. */
  close: () => Promise<void>;
}

export async function connectMemoirClient(opts: ConnectMemoirOptions = {}): Promise<ConnectedMemoirClient> {
  const env = process.env;
  const connection = await Connection.connect({ address: opts.address ?? env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const memoir = new MemoirClient({
    client: new Client({ connection, namespace: opts.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default' }),
    taskQueue: opts.taskQueue ?? env.MEMOIR_TASK_QUEUE ?? 'memoir',
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.userSearchKey ? { userSearchKey: opts.userSearchKey } : {}),
  });
  return { memoir, close: () => connection.close() };
}
