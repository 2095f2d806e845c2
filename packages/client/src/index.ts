/**
 * `@memoir/client`: start and message Memoir conversations from a Node application over Temporal. Built from the
 * server's own client code (src/client/, workflows/contract.ts) by scripts/build-client.ts; nothing here may reach
 * the server's storage, memory or HTTP modules (the package's check fails if a server dependency comes along).
 */
export { MemoirClient } from '../../../src/client/memoir-client';
export type {
  ContextPreview,
  ConversationSummary,
  ListFilter,
  MemoirClientOptions,
  MessageInput,
  SendOptions,
  StartConversationInput,
} from '../../../src/client/memoir-client';
export { connectMemoirClient } from '../../../src/client/connect';
export type { ConnectMemoirOptions, ConnectedMemoirClient } from '../../../src/client/connect';
export { MemoirError, toMemoirError } from '../../../src/client/errors';
export { DEFAULT_POLICY } from '../../../src/client/default-policy';
export type {
  ContextManifestView,
  ContextPreviewer,
  ConversationReader,
  ConversationRecord,
  ConversationWorkflow,
  ManifestReader,
  StoredMessage,
  UserSearchKey,
} from '../../../src/client/ports';
export { CLIENT_VERSION } from './version';
export {
  ANONYMOUS_USER,
  FailureTypes,
  ID_PATTERN,
  conversationWorkflowId,
  endConversationSignal,
  getStateQuery,
  isValidId,
  postMessageSignal,
  sendMessageUpdate,
  approveToolCallUpdate,
  denyToolCallUpdate,
} from '../../../workflows/contract';
export type {
  ConversationInput,
  ConversationOutcome,
  ConversationPolicy,
  ConversationState,
  ConversationStatus,
  ConversationTotals,
  MemoryState,
  PendingApproval,
  QueuedMessage,
  Reply,
  SendMessageInput,
  ToolCallOutcome,
  ToolDecision,
  TurnContext,
  TurnError,
  TurnResult,
  Usage,
} from '../../../workflows/contract';
