/**
 * One attempt at one model: rebuild the request from the turn's manifest and call Claude. Every attempt is
 * recorded; a failure is thrown as a classified `ApplicationFailure` for Temporal to retry or the chain to skip.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Usage } from '../workflows/contract';
import { isDependencyUnavailable } from '../src/client/unavailable';
import { STORAGE_UNAVAILABLE } from '../src/model/failure-types';
import { requestFromManifest } from '../src/model/turn-request';
import type { ActivityDeps } from './deps';
import { recordedModelCall } from './model-call';
import type { TurnChannel } from '../src/streaming/bus';

export interface GenerateReplyInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  turn: number;
  model: string;
  /** The user's message as sent; absent in runs scheduled before it was passed (the manifest then holds it). */
  content?: string;
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
      try {
        return await replyAttempt(deps, input);
      } catch (err) {
        // Model failures arrive classified; an unreachable database must not count against the model.
        if (err instanceof ApplicationFailure || !isDependencyUnavailable(err)) throw err;
        throw ApplicationFailure.create({
          message: `the database is unreachable: ${(err as Error).message}`,
          type: STORAGE_UNAVAILABLE,
          cause: err as Error, // isDependencyUnavailable holds only for Errors
        });
      }
    },
  };
}

async function replyAttempt(deps: ActivityDeps, input: GenerateReplyInput): Promise<GeneratedReply> {
  const { tenantId, conversationId, messageId, model } = input;
  const manifest = await deps.manifests.forModelCall(tenantId, conversationId, messageId);
  if (!manifest) {
    throw ApplicationFailure.nonRetryable(`no context manifest for message ${messageId}`, 'ContextMissing');
  }
  // The manifest keeps the message only in its stored form; the model gets it as the model stage's policy says.
  const userText = input.content === undefined ? undefined : deps.privacy.at('model', input.content).text;
  const request = await requestFromManifest(deps, tenantId, conversationId, manifest, model, deps.modelSettings, {
    userText,
  });
  const stream = await openStream(deps, { tenantId, conversationId, messageId }, model);
  const call = await recordedModelCall(
    deps,
    { tenantId, conversationId, messageId, turn: input.turn, purpose: 'reply' },
    request,
    stream.delta,
  ).finally(() => stream.flush());
  deps.metrics.turnDuration.observe({ phase: 'model' }, call.result.latencyMs / 1000);
  return {
    content: call.result.text,
    model: call.result.model,
    usage: call.usage,
    llmCallId: call.callId,
    stopReason: call.result.stopReason,
    attempt: Context.current().info.attempt,
  };
}

/**
 * Publishes this attempt's text as it arrives, in order. An attempt after text was already streamed (a retry, a
 * fallback model) is announced as a restart, so clients drop the partial text. Streaming is best effort: its
 * failures never fail the call.
 *
 * One publish is in flight at a time; text that arrives meanwhile is coalesced into the next one. A model that
 * streams faster than a bus round trip then costs a few publishes per reply, not one per token.
 */
async function openStream(deps: ActivityDeps, channel: TurnChannel, model: string) {
  const bus = deps.streams;
  if (!bus) return { delta: undefined, flush: async () => undefined };
  const failed = () => deps.metrics.tierErrors.inc({ tier: 'stream' });
  const attempt = Context.current().info.attempt;
  let queue: Promise<void> = (async () => {
    const restart = await bus.hasText(channel);
    await bus.publish(channel, { type: 'attempt', attempt, model, restart });
  })().catch(failed);
  let unsent = '';
  return {
    delta: (text: string) => {
      if (text === '') return;
      const publishQueued = unsent !== '';
      unsent += text;
      if (publishQueued) return; // the publish already queued will carry it
      queue = queue
        .then(() => {
          const batch = unsent;
          unsent = '';
          return bus.publish(channel, { type: 'delta', text: batch });
        })
        .catch(failed);
    },
    flush: () => queue,
  };
}
