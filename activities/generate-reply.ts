/**
 * One attempt at one model: build the request from the turn's manifest (and the texts its loadContext read, when it
 * ran in this process) and call Claude. Every attempt is
 * recorded; a failure is thrown as a classified `ApplicationFailure` for Temporal to retry or the chain to skip.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Usage } from '../workflows/contract';
import { isDependencyUnavailable } from '../src/client/unavailable';
import { STORAGE_UNAVAILABLE } from '../src/model/failure-types';
import { requestFromManifest } from '../src/model/turn-request';
import type { ActivityDeps } from './deps';
import { recordedModelCall } from './model-call';
import type { TurnChannel } from '../src/streaming/bus';
import type { StepBlock } from '../src/storage/tool-calls';
import { toolStepMessages } from '../src/tools/transcript';

export interface GenerateReplyInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  turn: number;
  model: string;
  /** The user's message as sent; absent in runs scheduled before it was passed (the manifest then holds it). */
  content?: string;
  /** The conversation's tools; absent for a conversation without tools (the request is then as before tools). */
  tools?: string[];
  /** Model step of the turn (0 first); earlier steps and their tool results are read from PostgreSQL. */
  step?: number;
}

/** A tool call the model asked for, by reference: its input stays in PostgreSQL. */
export interface ToolCallRef {
  toolUseId: string;
  name: string;
  needsApproval: boolean;
  idempotent: boolean;
  /** The tool's own bound and attempts, for the activity options of its call. */
  timeoutMs: number;
  maximumAttempts: number;
  initialIntervalMs?: number;
}

export interface GeneratedReply {
  content: string;
  model: string;
  usage: Usage;
  llmCallId: string;
  stopReason: string | null;
  attempt: number;
  /** Present when the reply stopped for tool_use: the calls to run before the next step. */
  toolCalls?: ToolCallRef[];
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
  const handed = await deps.manifests.forModelCall(tenantId, conversationId, messageId);
  if (!handed) {
    throw ApplicationFailure.nonRetryable(`no context manifest for message ${messageId}`, 'ContextMissing');
  }
  // The manifest keeps the message only in its stored form; the model gets it as the model stage's policy says.
  const userText = input.content === undefined ? undefined : deps.privacy.at('model', input.content).text;
  const tools = input.tools && input.tools.length > 0 ? await toolContext(deps, input) : undefined;
  const request = await requestFromManifest(
    deps,
    tenantId,
    conversationId,
    handed.manifest,
    model,
    deps.modelSettings,
    {
      userText,
      sources: handed.sources,
      ...tools?.overrides,
    },
  );
  const stream = await openStream(deps, { tenantId, conversationId, messageId }, model);
  const call = await recordedModelCall(
    deps,
    { tenantId, conversationId, messageId, turn: input.turn, purpose: 'reply' },
    request,
    stream.delta,
  ).finally(() => stream.flush());
  deps.metrics.turnDuration.observe({ phase: 'model' }, call.result.latencyMs / 1000);
  const toolCalls =
    tools && call.result.stopReason === 'tool_use'
      ? await saveToolStep(deps, input, call.result.model, call.result.content)
      : undefined;
  return {
    content: call.result.text,
    model: call.result.model,
    usage: call.usage,
    llmCallId: call.callId,
    stopReason: call.result.stopReason,
    attempt: Context.current().info.attempt,
    ...(toolCalls ? { toolCalls } : {}),
  };
}

/** The tool definitions and this turn's earlier steps, for a conversation with tools. */
async function toolContext(deps: ActivityDeps, input: GenerateReplyInput) {
  const tools = requireTools(deps);
  const ref = { tenantId: input.tenantId, conversationId: input.conversationId, messageId: input.messageId };
  const step = input.step ?? 0;
  const [steps, calls] = await Promise.all([
    step > 0 ? tools.calls.steps(ref, step) : [],
    step > 0 ? tools.calls.list(ref.tenantId, ref.conversationId, ref.messageId) : [],
  ]);
  return {
    overrides: { tools: tools.registry.definitions(input.tools ?? []), toolSteps: toolStepMessages(steps, calls) },
  };
}

/** Stores the step's content and its calls; only references go back to the workflow. */
async function saveToolStep(
  deps: ActivityDeps,
  input: GenerateReplyInput,
  model: string,
  content: Anthropic.ContentBlock[],
): Promise<ToolCallRef[]> {
  const tools = requireTools(deps);
  const blocks = content.flatMap((b): StepBlock[] =>
    b.type === 'text'
      ? [{ type: 'text', text: b.text }]
      : b.type === 'tool_use'
        ? [{ type: 'tool_use', id: b.id, name: b.name, input: b.input }]
        : [],
  );
  const uses = blocks.filter((b) => b.type === 'tool_use');
  await tools.calls.saveStep(
    { tenantId: input.tenantId, conversationId: input.conversationId, messageId: input.messageId },
    { step: input.step ?? 0, model, content: blocks },
    uses.map((u) => ({
      toolUseId: u.id,
      tool: u.name,
      source: tools.registry.info(u.name)?.source ?? 'unknown',
      input: u.input,
    })),
  );
  return uses.map((u) => {
    const info = tools.registry.info(u.name);
    // A name the conversation was not given still gets a row and an is_error result (runTool says so).
    const offered = info !== undefined && (input.tools ?? []).includes(u.name);
    return {
      toolUseId: u.id,
      name: u.name,
      needsApproval: offered && info.needsApproval,
      idempotent: offered ? info.idempotent : true,
      timeoutMs: info?.timeoutMs ?? 30_000,
      maximumAttempts: offered ? info.retry.maximumAttempts : 1,
      ...(info?.retry.initialIntervalMs ? { initialIntervalMs: info.retry.initialIntervalMs } : {}),
    };
  });
}

function requireTools(deps: ActivityDeps): NonNullable<ActivityDeps['tools']> {
  if (!deps.tools) throw ApplicationFailure.nonRetryable('this worker has no tool registry', 'UnknownTool');
  return deps.tools;
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
  let queue: Promise<void> = bus.startAttempt(channel, attempt, model).catch(failed);
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
