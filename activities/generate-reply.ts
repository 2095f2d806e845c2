/**
 * One attempt at one model: rebuild the request from the turn's manifest and call Claude. Every attempt is
 * recorded; a failure is thrown as a classified `ApplicationFailure` for Temporal to retry or the chain to skip.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Usage } from '../workflows/contract';
import { requestFromManifest } from '../src/model/turn-request';
import type { ActivityDeps } from './deps';
import { recordedModelCall } from './model-call';

export interface GenerateReplyInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  turn: number;
  model: string;
}

export interface GeneratedReply {
  content: string;
  model: string;
  usage: Usage;
  llmCallId: string;
  stopReason: string | null;
  attempt: number;
}

export function generateReplyActivities(deps: ActivityDeps) {
  return {
    async generateReply(input: GenerateReplyInput): Promise<GeneratedReply> {
      const { tenantId, conversationId, messageId, model } = input;
      const manifest = await deps.manifests.get(tenantId, conversationId, messageId);
      if (!manifest) {
        throw ApplicationFailure.nonRetryable(`no context manifest for message ${messageId}`, 'ContextMissing');
      }
      const request = await requestFromManifest(deps, tenantId, conversationId, manifest, model, deps.modelSettings);
      const call = await recordedModelCall(
        deps,
        { tenantId, conversationId, messageId, turn: input.turn, purpose: 'reply' },
        request,
      );
      deps.metrics.turnDuration.observe({ phase: 'model' }, call.result.latencyMs / 1000);
      return {
        content: call.result.text,
        model: call.result.model,
        usage: call.usage,
        llmCallId: call.callId,
        stopReason: call.result.stopReason,
        attempt: Context.current().info.attempt,
      };
    },
  };
}
