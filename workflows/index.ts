/** Every workflow the worker runs (its `workflowsPath`). */
export { conversationWorkflow } from './conversation';
