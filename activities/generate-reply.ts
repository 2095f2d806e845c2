/**
 * One attempt at one model: build the request from the turn's manifest (and the texts its loadContext read, when it
 * ran in this process) and call Claude. Every attempt is
 * recorded; a failure is thrown as a classified `ApplicationFailure` for Temporal to retry or the chain to skip.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { newMessageId } from '../src/client/message-id';
import { briefUsage, type BriefUsage, type TurnResult, type Usage } from '../workflows/contract';
import type { ChainStep } from '../workflows/model-chain';
import { isDependencyUnavailable } from '../src/client/unavailable';
import { STORAGE_UNAVAILABLE } from '../src/model/failure-types';
import { conversationOfWorkflowId } from '../src/codec/scope';
import { requestFromManifest } from '../src/model/turn-request';
import type { ActivityDeps } from './deps';
import {
  activityCallPrefix,
  HEARTBEAT_EVERY_MS,
  recordedModelCall,
  type CallOptions,
  type RecordedCall,
} from './model-call';
import {
  awaitAdopted,
  HandedOverCalls,
  handOverKey,
  newHandOverNonce,
  raceHandOver,
  type HandedOver,
} from './reply-handover';
import { activityLogger } from './log-context';
import { storeTurn } from './conversation';
import {
  assembleTurn,
  contextRef,
  refuseReusedMessageId,
  type ContextRef,
  type TurnContextInput,
} from './turn-context';
import type { HandedManifest } from '../src/storage/manifests';
import type { TurnChannel } from '../src/streaming/bus';
import type { StepBlock } from '../src/storage/tool-calls';
import type { LlmCallRow } from '../src/storage/llm-calls';
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
  /**
   * Store the turn once the model has answered (runs with the `model-call-persists-turn` patch): the user message
   * as the manifest holds it and the reply, so the workflow needs no persist step. Absent: the workflow persists.
   */
  persist?: StoreHere;
  /**
   * The call runs the turn's context step itself (runs with the `model-call-loads-context` patch): `first` for the
   * chain's first call, whose first attempt assembles the context (and answers a repeated message from the store);
   * `again` for a later call or attempt, which takes the manifest an earlier one saved (assembling it only if none
   * did). Needs `content` and `persist`. Absent: loadContext ran before the call.
   */
  assemble?: 'first' | 'again';
  /** The hand-over marker of the local call this activity adopts, when it still runs on this worker. */
  adopt?: string;
}

/** What storing the turn in the model call needs besides the manifest. */
export interface StoreHere {
  /** When the user sent the message, if the caller said so. */
  sentAt?: string;
  /** Models the chain moved past before this call (for metrics and logs); absent when none. */
  steps?: ChainStep[];
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
  /** The ledger row of this call; absent when the call stored the turn itself (the row is marked accepted). */
  llmCallId?: string;
  /** Absent when the call stored the turn itself (only tool loops read it). */
  stopReason?: string | null;
  attempt: number;
  /** The stored reply's id: present when this call stored the turn (`persist`), or found it stored by a retry. */
  messageId?: string;
  /** Present when the reply stopped for tool_use: the calls to run before the next step. */
  toolCalls?: ToolCallRef[];
  /** The turn was found stored with a degraded reply (no model answered it then): it stays degraded. */
  degraded?: true;
  /** A call that assembled the context found the message answered by an earlier turn: nothing new happened. */
  repeated?: true;
  /** The turn's context, from a call that runs the context step (`assemble`). */
  context?: ContextRef;
  /**
   * The call's ledger row when neither the turn's statement nor the row alone could be written (the database was
   * down): the workflow's persistTurn writes it with the turn, so a paid call is never without its row.
   */
  ledger?: LlmCallRow;
}

/**
 * What the workflow sends: a call that stores the turn leaves out the tenant and conversation, which its workflow id
 * names (~70 B of history per turn).
 */
export type GenerateReplyCall = Omit<GenerateReplyInput, 'tenantId' | 'conversationId'> &
  Partial<Pick<GenerateReplyInput, 'tenantId' | 'conversationId'>>;

/**
 * What a call that stored the turn sends back: the model and attempt only when they differ from the model asked for
 * and the first attempt (the chain fills them in), ~40 B of history per turn less.
 */
export type StoredReply = Omit<GeneratedReply, 'model' | 'attempt' | 'usage'> &
  Partial<Pick<GeneratedReply, 'model' | 'attempt'>> & { usage: BriefUsage };

export function generateReplyActivities(deps: ActivityDeps) {
  const handedOver = new HandedOverCalls<StoredReply>();
  return {
    async generateReply(call: GenerateReplyCall): Promise<StoredReply> {
      if (call.adopt !== undefined) {
        const kept = handedOver.adopt(handOverKey(call.turn, call.adopt));
        // Not here (another worker, a restart, a retry of the adopter): the call is made afresh, at least once.
        if (kept) return await awaitAdopted(kept);
      }
      return await answer(deps, call, Context.current().cancellationSignal);
    },

    /**
     * The local model call of MEMOIR_MODEL_CALL=local (patch `model-call-handover`): the reply when the call ends
     * within HAND_OVER_AFTER_MS, else a hand-over marker while the call runs on in this worker for generateReply to
     * adopt (activities/reply-handover.ts).
     */
    async replyOrHandOver(call: GenerateReplyCall): Promise<StoredReply | HandedOver> {
      const ctx = Context.current();
      const abort = new AbortController();
      let local = true;
      const settled = answer(deps, call, AbortSignal.any([ctx.cancellationSignal, abort.signal]), () => local);
      const first = await raceHandOver(settled);
      if (first !== 'late') return first.done;
      const nonce = newHandOverNonce();
      // A full registry keeps the call in its workflow task, as without the hand-over.
      if (!handedOver.keep(handOverKey(call.turn, nonce), settled, abort)) return await settled;
      local = false; // this activity completes now: the adopter heartbeats from here
      activityLogger(deps.log).debug({ turn: call.turn, messageId: call.messageId }, 'model call handed over');
      return { handedOver: nonce, attempt: ctx.info.attempt };
    },
  };
}

/**
 * One attempt, its failures classified. `beating`: whether this activity still heartbeats for it (a handed-over
 * call's activity has completed; its adopter beats).
 */
async function answer(
  deps: ActivityDeps,
  call: GenerateReplyCall,
  signal: AbortSignal,
  beating: () => boolean = () => true,
): Promise<StoredReply> {
  // Beats for the whole attempt, not only the model call: storing the turn after it (ledger row, persist, hot
  // tier) must not outlast the heartbeat timeout, or a second attempt would call the model again.
  const ctx = Context.current();
  const heartbeat = () => beating() && ctx.heartbeat();
  const beat = setInterval(heartbeat, HEARTBEAT_EVERY_MS);
  const seen: Seen = {};
  try {
    return await replyAttempt(deps, withScope(call), seen, { signal, heartbeat });
  } catch (err) {
    // A degraded turn still reports its context (getState's lastContext), as when loadContext returned it.
    if (err instanceof ApplicationFailure && seen.context) throw withContext(err, seen.context);
    // Model failures arrive classified; an unreachable database must not count against the model.
    if (err instanceof ApplicationFailure || !isDependencyUnavailable(err)) throw err;
    throw ApplicationFailure.create({
      message: `the database is unreachable: ${(err as Error).message}`,
      type: STORAGE_UNAVAILABLE,
      cause: err as Error, // isDependencyUnavailable holds only for Errors
    });
  } finally {
    clearInterval(beat);
  }
}

/** What an attempt learned before it failed, for the failure it throws. */
interface Seen {
  context?: ContextRef;
}

/** What the model call is aborted by and heartbeats with. */
type Controls = Pick<CallOptions, 'signal' | 'heartbeat'>;

async function replyAttempt(
  deps: ActivityDeps,
  input: GenerateReplyInput,
  seen: Seen,
  controls: Controls,
): Promise<StoredReply> {
  const { tenantId, conversationId, messageId, model } = input;
  const ready = input.assemble ? await contextInCall(deps, input) : await contextHanded(deps, input);
  if (ready.kind === 'stored') return brief(input, ready.reply);
  const { handed } = ready;
  // Written beside the model call, and awaited before the turn is stored (the manifest commits first) or the
  // attempt fails (a retry in this process then finds it in memory).
  const saved = ready.saved ?? Promise.resolve();
  const settled = () => saved.catch(() => undefined);
  if (input.assemble) seen.context = contextRef(handed.manifest);
  // The manifest keeps the message only in its stored form; the model gets it as the model stage's policy says.
  const userText = input.content === undefined ? undefined : deps.privacy.at('model', input.content).text;
  // A failure before the model is called still waits for the manifest's write: a retry must not race it.
  const { tools, request, stream } = await (async () => {
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
    return { tools, request, stream };
  })().catch(async (err: unknown) => {
    await settled();
    throw err;
  });
  // A call that will store the turn writes its ledger row in the turn's statement: one flush, not two.
  const storesTurn = input.persist !== undefined && !tools;
  const call = await recordedModelCall(
    deps,
    { tenantId, conversationId, messageId, turn: input.turn, purpose: 'reply' },
    request,
    { ...(stream.delta ? { onText: stream.delta } : {}), deferLedger: storesTurn, ...controls },
  ).catch(async (err: unknown) => {
    await Promise.all([stream.flush(), settled()]);
    throw err;
  });
  // The reply's last deltas are published while the turn is stored, not before: the attempt returns once both are.
  const streamed = stream.flush();
  // Both settle before the attempt ends, even when storing fails: a retry's restart event must follow this one's text.
  const [answer, flushed] = await Promise.allSettled([
    afterModel(deps, input, { handed, call, saved, tools }, seen),
    streamed,
  ]);
  if (answer.status === 'rejected') throw answer.reason;
  if (flushed.status === 'rejected') throw flushed.reason;
  return answer.value;
}

/** What the attempt holds once the model has answered. */
interface Answered {
  handed: HandedManifest;
  call: RecordedCall;
  /** The manifest's write (see replyAttempt). */
  saved: Promise<void>;
  tools: Awaited<ReturnType<typeof toolContext>> | undefined;
}

/** Stores the answered turn (or the tool step) and shapes the attempt's result. */
async function afterModel(
  deps: ActivityDeps,
  input: GenerateReplyInput,
  { handed, call, saved, tools }: Answered,
  seen: Seen,
): Promise<StoredReply> {
  const { tenantId, conversationId, messageId } = input;
  deps.metrics.turnDuration.observe({ phase: 'model' }, call.result.latencyMs / 1000);
  const toolCalls =
    tools && call.result.stopReason === 'tool_use'
      ? await saveToolStep(deps, input, call.result.model, call.result.content)
      : undefined;
  if (input.persist && !toolCalls) {
    const reply = { messageId: newMessageId(), content: call.result.text, model: call.result.model, degraded: false };
    const { sentAt, steps = [] } = input.persist;
    // The manifest keeps the stored form; a call that assembled the context has the message as sent, stored like
    // persistTurn stores it (so a message the store policy redacts is stored here too).
    const content = input.assemble && input.content !== undefined ? input.content : handed.manifest.userContent;
    const userMessage = { messageId, content, ...(sentAt ? { sentAt } : {}) };
    // The manifest (saved while the model answered) commits before the turn that refers to it.
    const written = await saved
      .then(() =>
        storeTurn(deps, {
          tenantId,
          conversationId,
          turn: input.turn,
          steps,
          userMessage,
          reply,
          usage: call.usage,
          llmCallId: call.callId,
          ...(call.unwritten ? { ledger: call.unwritten } : {}),
        }),
      )
      .catch(async (err: unknown) => {
        // The call was paid for whatever happened to the turn: its row must exist (a write that reached the database
        // already holds it; the insert is idempotent).
        if (err instanceof ApplicationFailure) {
          // The refusal stands even if the row cannot be written: a retry would find the conversation gone too.
          if (call.unwritten)
            await deps.llmCalls
              .record(call.unwritten)
              .catch((ledgerErr: unknown) =>
                activityLogger(deps.log).error(
                  { tenantId, conversationId, messageId, error: String(ledgerErr) },
                  'a paid call of a refused turn has no ledger row',
                ),
              );
          throw err; // the conversation is gone: nothing to store it in
        }
        // A retry of this attempt would pay for the reply again: the reply goes back unstored and the workflow's
        // persistTurn (answerIfStored) waits the outage out. A row the database refused too goes back with it, for
        // persistTurn to write with the turn.
        const ledgerLeft = call.unwritten
          ? await deps.llmCalls.record(call.unwritten).then(
              () => undefined,
              () => call.unwritten,
            )
          : undefined;
        activityLogger(deps.log).warn(
          {
            tenantId,
            conversationId,
            messageId,
            error: err instanceof Error ? err.message : String(err),
            ledgerWritten: ledgerLeft === undefined,
          },
          'storing the answered turn failed; the workflow stores it',
        );
        return { ledgerLeft };
      });
    if (!('inserted' in written)) {
      return { ...unstored(call), ...(written.ledgerLeft ? { ledger: written.ledgerLeft } : {}) };
    }
    if (!written.inserted) {
      // Another attempt stored its reply first: that one is the turn's answer.
      const first = await deps.conversations.findTurn(tenantId, conversationId, messageId);
      if (first) return brief(input, storedReply(first));
    }
    return brief(input, {
      content: reply.content,
      model: reply.model,
      usage: call.usage,
      messageId: reply.messageId,
      ...(seen.context ? { context: seen.context } : {}),
    });
  }
  return { ...unstored(call), ...(toolCalls ? { toolCalls } : {}), ...(seen.context ? { context: seen.context } : {}) };
}

type CallContext =
  | { kind: 'stored'; reply: Omit<GeneratedReply, 'attempt'> }
  /** `saved`: the manifest this attempt assembled, still being written while the model answers. */
  | { kind: 'ready'; handed: HandedManifest; saved?: Promise<void> };

/**
 * The context loadContext saved before this call. A call that stores the turn first looks for it stored: an attempt
 * after a crash that followed the write (or a second call after a storage error) answers from PostgreSQL, without
 * calling the model again.
 */
async function contextHanded(deps: ActivityDeps, input: GenerateReplyInput): Promise<CallContext> {
  const { tenantId, conversationId, messageId } = input;
  const [handed, stored] = await Promise.all([
    deps.manifests.forModelCall(tenantId, conversationId, messageId),
    input.persist ? deps.conversations.findTurn(tenantId, conversationId, messageId) : null,
  ]);
  if (stored) return { kind: 'stored', reply: storedReply(stored) };
  if (!handed) {
    throw ApplicationFailure.nonRetryable(`no context manifest for message ${messageId}`, 'ContextMissing');
  }
  return { kind: 'ready', handed };
}

/**
 * The context step run by the call itself, once per turn: the first attempt of the chain's first call assembles
 * it (a turn found stored then is a repeated message, answered by an earlier turn). Any later attempt or call takes
 * the manifest an earlier one saved, from this worker's memory or PostgreSQL (a retry on another worker after a
 * crash), and a turn found stored then is this turn's, stored by an attempt whose result was lost. Only when no
 * manifest was saved (the first attempt failed before) does a later one assemble the context again.
 *
 * A turn stored under the messageId is this turn's only beside a manifest of this turn: every attempt that stores
 * the turn (or hands its reply to persistTurn) saved one first, committed before the turn's statement in the same
 * WAL. Without one, an earlier turn answered the message (sent again after continue-as-new, when the first attempt
 * failed before its check): the context step's answer for a repeated message holds, content check included.
 */
async function contextInCall(deps: ActivityDeps, input: GenerateReplyInput): Promise<CallContext> {
  const { tenantId, conversationId, messageId, content, turn } = input;
  if (content === undefined) {
    throw ApplicationFailure.nonRetryable('a call that assembles its context needs the message', 'InvalidInput');
  }
  const turnInput = { tenantId, conversationId, messageId, content, turn };
  const first = input.assemble === 'first' && Context.current().info.attempt === 1;
  if (!first) {
    const [stored, found] = await Promise.all([
      deps.conversations.findTurn(tenantId, conversationId, messageId),
      deps.manifests.forModelCall(tenantId, conversationId, messageId),
    ]);
    // A manifest under this messageId may be an earlier turn's (the repeated message's).
    const handed = found?.manifest.turn === turn ? found : null;
    if (stored && !handed) {
      await refuseReusedMessageId(deps, turnInput);
      return { kind: 'stored', reply: { ...storedReply(stored), repeated: true } };
    }
    const context = handed ? { context: contextRef(handed.manifest) } : {};
    if (stored) return { kind: 'stored', reply: { ...storedReply(stored), ...context } };
    if (handed) return { kind: 'ready', handed };
  }
  const loaded = await assembleTurn(deps, turnInput, { keepSources: false, saveInBackground: true });
  if (loaded.kind === 'answered') {
    // A local model call (MEMOIR_MODEL_CALL=local) run again after its workflow task was lost starts over at attempt
    // 1: the turn it finds stored is this turn's answer when this turn's manifest is there (stored by this call or by
    // a fallback call of the chain) or an accepted ledger row carries this very call's id (its manifest save failed).
    const repeated = first && !(await storedByThisTurn(deps, turnInput));
    return {
      kind: 'stored',
      reply: { ...storedReply(loaded.result), ...(repeated ? { repeated: true as const } : {}) },
    };
  }
  return { kind: 'ready', handed: { manifest: loaded.manifest, sources: loaded.sources }, saved: loaded.saved };
}

/** Whether the turn stored under this message is the one this call belongs to, not an earlier turn's answer. */
async function storedByThisTurn(deps: ActivityDeps, { tenantId, conversationId, messageId, turn }: TurnContextInput) {
  const found = await deps.manifests.forModelCall(tenantId, conversationId, messageId);
  if (found?.manifest.turn === turn) return true;
  return (await deps.llmCalls.acceptedInActivity(tenantId, conversationId, activityCallPrefix())) !== null;
}

/** The same failure, with the turn's context in its details (the workflow reads it for a degraded turn). */
function withContext(err: ApplicationFailure, context: ContextRef): ApplicationFailure {
  return ApplicationFailure.create({
    message: err.message,
    ...(err.type ? { type: err.type } : {}),
    nonRetryable: err.nonRetryable ?? false,
    details: [...(err.details ?? []), { context }],
    ...(err.nextRetryDelay !== undefined && err.nextRetryDelay !== null ? { nextRetryDelay: err.nextRetryDelay } : {}),
    ...(err.cause ? { cause: err.cause } : {}),
  });
}

/** The model's answer as it came, with no stored reply's id: the workflow stores the turn. */
function unstored(call: RecordedCall): GeneratedReply {
  return {
    content: call.result.text,
    model: call.result.model,
    usage: call.usage,
    llmCallId: call.callId,
    stopReason: call.result.stopReason,
    attempt: Context.current().info.attempt,
  };
}

function withScope(call: GenerateReplyCall): GenerateReplyInput {
  const { tenantId, conversationId } = call;
  if (tenantId !== undefined && conversationId !== undefined) return { ...call, tenantId, conversationId };
  const scope = conversationOfWorkflowId(Context.current().info.workflowExecution?.workflowId ?? '');
  if (!scope) throw ApplicationFailure.nonRetryable('generateReply needs a tenant and conversation', 'InvalidInput');
  return { ...call, ...scope };
}

/** A turn stored before this attempt, as the model call's result. */
function storedReply(stored: TurnResult): Omit<GeneratedReply, 'attempt'> {
  const { reply, usage } = stored;
  return {
    content: reply.content,
    model: reply.model,
    usage,
    messageId: reply.messageId,
    ...(reply.degraded ? { degraded: true as const } : {}),
  };
}

/** Leaves out the model when it is the one asked for, the attempt when it is the first, and usage counts of 0. */
function brief(input: GenerateReplyInput, reply: Omit<GeneratedReply, 'attempt'>): StoredReply {
  const { model, usage, ...rest } = reply;
  const attempt = Context.current().info.attempt;
  return {
    ...rest,
    usage: briefUsage(usage),
    ...(model !== input.model ? { model } : {}),
    ...(attempt > 1 ? { attempt } : {}),
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
 * Publishes this attempt's text as it arrives, in order, when a client listens to the turn (the bus says so when the
 * attempt starts; nobody listens to a turn sent without a stream, and its text then costs no publishes). An attempt
 * after text was already streamed (a retry, a fallback model) is announced as a restart, so clients drop the
 * partial text. Streaming is best effort: its failures never fail the call.
 *
 * One publish is in flight at a time; text that arrives meanwhile is coalesced into the next one. A model that
 * streams faster than a bus round trip then costs a few publishes per reply, not one per token.
 */
async function openStream(deps: ActivityDeps, channel: TurnChannel, model: string) {
  const bus = deps.streams;
  if (!bus) return { delta: undefined, flush: async () => undefined };
  const failed = () => deps.metrics.tierErrors.inc({ tier: 'stream' });
  const attempt = Context.current().info.attempt;
  const listened = bus.startAttempt(channel, attempt, model).catch(() => (failed(), false));
  let unheard = false; // known once the attempt's start is: then text is dropped as it arrives
  let queue: Promise<unknown> = listened.then((yes) => (unheard = !yes));
  let unsent = '';
  return {
    delta: (text: string) => {
      if (text === '' || unheard) return;
      const publishQueued = unsent !== '';
      unsent += text;
      if (publishQueued) return; // the publish already queued will carry it
      queue = queue
        .then(() => {
          const batch = unsent;
          unsent = '';
          return unheard ? undefined : bus.publish(channel, { type: 'delta', text: batch });
        })
        .catch(failed);
    },
    flush: () => queue,
  };
}
