/**
 * One attempt at one model: rebuild the request from the turn's manifest, call Claude, record the call in
 * `llm_calls` whatever happens, and either return the reply or throw a classified `ApplicationFailure`.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { addUsage, ZERO_USAGE, type Usage } from '../workflows/contract';
import type { ModelCallResult } from '../src/model/client';
import { classifyModelError, toApplicationFailure } from '../src/model/errors';
import { estimateRequestTokens } from '../src/model/prompt';
import { requestFromManifest } from '../src/model/turn-request';
import type { LlmPurpose } from '../src/storage/llm-calls';
import type { ActivityDeps } from './deps';
import { activityLogger, secondsSince } from './log-context';

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
}

const HEARTBEAT_EVERY_MS = 5_000;

export function generateReplyActivities(deps: ActivityDeps) {
  return {
    async generateReply(input: GenerateReplyInput): Promise<GeneratedReply> {
      const ctx = Context.current();
      const { tenantId, conversationId, messageId, model } = input;
      const manifest = await deps.manifests.get(tenantId, conversationId, messageId);
      if (!manifest) {
        throw ApplicationFailure.nonRetryable(`no context manifest for message ${messageId}`, 'ContextMissing');
      }
      const request = await requestFromManifest(deps, tenantId, conversationId, manifest, model, deps.modelSettings);

      const { attempt, activityId, workflowExecution } = ctx.info;
      const callId = `${workflowExecution?.runId ?? 'standalone'}/${activityId}/${attempt}`;
      const call = {
        callId,
        tenantId,
        conversationId,
        messageId,
        turn: input.turn,
        purpose: 'reply' as LlmPurpose,
        model,
        attempt,
      };
      const started = performance.now();
      const heartbeat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      let firstText = true;
      const onText = () => {
        if (!firstText) return;
        firstText = false;
        deps.metrics.timeToFirstToken.observe({ model }, secondsSince(started));
      };
      let result: ModelCallResult;
      try {
        result = await deps.model.call(request, { signal: ctx.cancellationSignal, onText });
      } catch (err) {
        const failure = classifyModelError(err);
        deps.metrics.modelCalls.inc({ model, purpose: 'reply', outcome: failure.type });
        if (failure.retryable) deps.metrics.retries.inc({ model, error_type: failure.type });
        activityLogger(deps.log).warn(
          { model, failure: failure.type, status: failure.status, requestId: failure.requestId },
          'model call failed',
        );
        await deps.llmCalls.record({
          ...call,
          outcome: failure.type,
          errorType: failure.type,
          ...ZERO_TOKENS,
          costUsd: 0,
          latencyMs: Math.round(performance.now() - started),
          requestId: failure.requestId,
        });
        throw toApplicationFailure(failure, attempt, deps.modelSettings.retry);
      } finally {
        clearInterval(heartbeat);
      }

      await deps.llmCalls.record({
        ...call,
        outcome: 'ok',
        ...result.tokens,
        costUsd: result.costUsd,
        latencyMs: result.latencyMs,
        requestId: result.requestId,
      });
      const t = result.tokens;
      deps.calibration.observe(
        model,
        estimateRequestTokens(request),
        t.inputTokens + t.cacheReadTokens + t.cacheWrite5mTokens + t.cacheWrite1hTokens,
      );
      return {
        content: result.text,
        model: result.model,
        usage: addUsage(ZERO_USAGE, {
          inputTokens: t.inputTokens,
          outputTokens: t.outputTokens,
          cacheReadTokens: t.cacheReadTokens,
          cacheWriteTokens: t.cacheWrite5mTokens + t.cacheWrite1hTokens,
          costUsd: result.costUsd,
        }),
        llmCallId: callId,
        stopReason: result.stopReason,
      };
    },
  };
}

const ZERO_TOKENS = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
};
