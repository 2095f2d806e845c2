/**
 * One long-running workflow per conversation. Messages arrive by update (the caller waits for the reply) or signal
 * (fire and forget) and are answered one at a time in arrival order. Memory upkeep runs beside the turns. The run
 * continues as new when the server suggests it or after `turnsPerRun` turns, and completes after `idleTimeoutMs`
 * without a message; the next message starts it again with its state restored from PostgreSQL.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ToolApprovals } from './approvals';
import { Background, FACTS_AND_INDEX_TOGETHER_PATCH } from './background';
import { lastTurnDetails } from './details';
import { IDLE_TIMER_KEPT_PATCH, IdleTimer } from './idle-timer';
import {
  approveToolCallUpdate,
  denyToolCallUpdate,
  endConversationSignal,
  FailureTypes,
  getStateQuery,
  postMessageSignal,
  sendMessageUpdate,
  type ConversationInput,
  type ConversationOutcome,
  type QueuedMessage,
  withPolicyDefaults,
} from './contract';
import {
  addToTotals,
  carry,
  initialState,
  recordTurn,
  SEARCH_ATTRIBUTES_BATCHED_PATCH,
  SearchAttributePublisher,
} from './state';
import { askPatchesAtRunStart } from './run-patches';
import { LOCAL_TURN_STEPS_PATCH, runTurn, type TurnOutcome } from './turn';
import { failureType } from './model-chain';
import { checkMessage } from './validate';

const STORE_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' };
const { openConversation, readPolicy } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: STORE_RETRY,
});
/** Behind LOCAL_TURN_STEPS_PATCH: a new conversation is opened inside the workflow task that accepts its first message. */
const local = wf.proxyLocalActivities<Activities>({ startToCloseTimeout: '30s', retry: STORE_RETRY });

/** Past this many events a run refuses new updates until it has drained and continued as new. */
const HISTORY_EVENTS_HARD_LIMIT = 40_000;
const MAX_PENDING_MESSAGES = 100;
/**
 * Runs with this marker: wait for summary and fact calls before continuing as new or completing (their tokens are
 * counted in this run), publish search attributes when those calls report, and, when completing idle, refuse
 * updates as busy and hand signalled messages to a next run rather than drop them.
 */
const UPKEEP_SETTLES_PATCH = 'upkeep-settles-before-run-ends';

/**
 * Runs with this marker take a message's id from its update's id when the arguments leave it out: the client sends
 * the id once, as the update id, rather than again in the arguments (~50 B of history per turn). Before, a message
 * without an id got a fresh one here.
 */
const MESSAGE_ID_FROM_UPDATE_PATCH = 'message-id-from-update-id';

/**
 * Runs with this marker answer an update as soon as its turn ends (a promise per waiting handler) rather than when
 * the SDK next re-checks conditions: one call into the sandbox less per turn, and the update's completion may now
 * come before the next queued message's model call in history, which the runs before it must not see on replay.
 */
const UPDATE_ANSWERED_AT_TURN_END_PATCH = 'update-answered-at-turn-end';

/**
 * Runs with this marker start no summary or fact call once they are due to continue as new. Continue-as-new waits
 * for those calls, and a message accepted meanwhile is answered first; when every such turn started another call,
 * a client sending without pause kept the run going past `turnsPerRun` (its history growing) for as long as it
 * kept sending. Now the wait lasts at most the calls already running. Asked at the run's start (run-patches.ts):
 * the first place it applies can follow a local activity's result.
 */
const UPKEEP_HELD_AT_RUN_END_PATCH = 'upkeep-held-at-run-end';

/**
 * A run due to continue as new waits for an empty queue, and a message accepted meanwhile is answered first. With
 * several clients sending, or a stream of signalled messages, the queue never empties. Runs with this marker hand
 * the signalled messages still queued to the next run as soon as they are due and no update waits (no caller waits
 * for a signalled message's reply), as a closing run does. Asked at the run's start (run-patches.ts).
 *
 * Updates are bounded in every run: a due run whose summary and fact calls have settled (so only its queue keeps it)
 * and that has taken its grace of messages since it became due (a tenth of `turnsPerRun`, between 1 and 20) refuses
 * new ones as busy (the client sends again and the next run answers), so the ones it holds drain. While those calls
 * run, the run could not end anyway, and messages are answered. Validators do not run on replay: no marker needed.
 */
const SIGNALS_CARRIED_WHEN_DUE_PATCH = 'signals-carried-when-due';
/**
 * Carried messages travel in the next run's input, which the server refuses past 2 MB: a queue longer than this
 * (JSON characters, up to 3 bytes each) stays in this run and is answered here, as before the marker.
 */
const MAX_CARRIED_CHARS = 512 * 1024;
const MAX_GRACE_MESSAGES = 20;

export async function conversationWorkflow(input: ConversationInput): Promise<ConversationOutcome> {
  const { tenantId, conversationId } = input;
  const scope = { tenantId, conversationId };
  let policy = withPolicyDefaults(input.policy);
  // Before any await: a patch first asked after a local activity's result is not deterministic (run-patches.ts).
  const patchedAtStart = askPatchesAtRunStart([
    SEARCH_ATTRIBUTES_BATCHED_PATCH,
    UPDATE_ANSWERED_AT_TURN_END_PATCH,
    MESSAGE_ID_FROM_UPDATE_PATCH,
    UPKEEP_SETTLES_PATCH,
    // Last: added after the list was first recorded.
    FACTS_AND_INDEX_TOGETHER_PATCH,
    UPKEEP_HELD_AT_RUN_END_PATCH,
    SIGNALS_CARRIED_WHEN_DUE_PATCH,
  ]);
  const holdUpkeepAtRunEnd = patchedAtStart.has(UPKEEP_HELD_AT_RUN_END_PATCH);
  const carrySignalsWhenDue = patchedAtStart.has(SIGNALS_CARRIED_WHEN_DUE_PATCH);
  const state = initialState(tenantId, conversationId, input.carried, input.userId);
  /** The `UserId` search attribute's value: a keyed hash from openConversation, never the id (see state.ts). */
  let userKey = input.carried?.userKey;
  const visibility = new SearchAttributePublisher(wf.patched(SEARCH_ATTRIBUTES_BATCHED_PATCH), state, () => userKey);
  /** `answers`: an update handler waits for this message's turn (a signalled or carried message has none). */
  const queue: { id: number; message: QueuedMessage; answers: boolean }[] = [];
  /**
   * Update handlers waiting for their message's turn, by ticket. A plain promise each, resolved when the turn ends:
   * a `condition()` per handler cost four promises (each with a stack capture in the SDK's sandbox) and was
   * evaluated again after every job of every activation. Signalled and carried messages have no waiter.
   */
  const waiting = new Map<number, (outcome: TurnOutcome) => void>();
  /** Runs before UPDATE_ANSWERED_AT_TURN_END_PATCH: each handler waits on a condition over these outcomes. */
  const outcomes = new Map<number, TurnOutcome>();
  const answerAtTurnEnd = wf.patched(UPDATE_ANSWERED_AT_TURN_END_PATCH);
  const settle = (ticket: number, outcome: TurnOutcome) => {
    if (!answerAtTurnEnd) outcomes.set(ticket, outcome);
    waiting.get(ticket)?.(outcome);
    waiting.delete(ticket);
  };
  let nextTicket = 0;
  let turnsThisRun = 0;
  /** The run has served its turns (or the server asks for a new run): it continues as new once it can. */
  const runDue = () => turnsThisRun >= policy.turnsPerRun || wf.workflowInfo().continueAsNewSuggested;
  /** Turns of this run however they ended (fresh, repeated or failed), and their count when it was first due. */
  let handledThisRun = 0;
  let dueAfterHandled: number | undefined;
  /**
   * Due, its upkeep settled, and its grace taken: messages handled or queued since it became due (the queue counts:
   * an update often arrives in the workflow task that brings the previous turn's reply, and its validator runs
   * before that reply is taken in).
   */
  const overdue = () =>
    dueAfterHandled !== undefined &&
    runDue() &&
    !background.accounting &&
    handledThisRun + queue.length - dueAfterHandled >= Math.min(MAX_GRACE_MESSAGES, Math.ceil(policy.turnsPerRun / 10));
  let ending = false;
  /** Idle, completing: updates are refused as busy (the client's retry starts the next run). */
  let closing = false;
  /** No update handler waits on the queue: a run may hand it to the next (SIGNALS_CARRIED_WHEN_DUE_PATCH). */
  const onlySignalled = () => queue.every((t) => !t.answers);
  const carriedFits = () => JSON.stringify(queue.map((t) => t.message)).length <= MAX_CARRIED_CHARS;
  const enqueue = (message: QueuedMessage, answers = false): number => {
    queue.push({ id: nextTicket, message, answers });
    state.pendingMessages = queue.length;
    return nextTicket++;
  };
  for (const message of input.carried?.pending ?? []) enqueue(message);
  /** The conversation's tools, fixed at creation: known once it is opened (or carried by a continued run). */
  let tools: string[] = input.carried?.tools ?? [];
  const approvals = new ToolApprovals();
  const carryTools = () => (tools.length > 0 ? { tools } : {});
  const background = new Background(
    scope,
    () => policy,
    state.memory,
    (usage) => {
      addToTotals(state, usage);
      // Summary and fact costs show in the search attributes at once (batched: with the next publish).
      if (wf.patched(UPKEEP_SETTLES_PATCH)) visibility.afterChange();
    },
    () => state.turnCount,
    patchedAtStart.has(FACTS_AND_INDEX_TOGETHER_PATCH),
  );

  wf.setHandler(getStateQuery, () => ({
    ...state,
    upkeepRunning: background.busy,
    ...(tools.length > 0 ? { pendingApprovals: approvals.list() } : {}),
  }));
  wf.setHandler(approveToolCallUpdate, (d) => approvals.decide(d, true), { validator: (d) => approvals.check(d) });
  wf.setHandler(denyToolCallUpdate, (d) => approvals.decide(d, false), { validator: (d) => approvals.check(d) });
  wf.setHandler(
    sendMessageUpdate,
    async (msg) => {
      const ticket = enqueue(
        {
          messageId:
            msg.messageId ?? (wf.patched(MESSAGE_ID_FROM_UPDATE_PATCH) ? wf.currentUpdateInfo()!.id : wf.uuid4()),
          content: msg.content,
          // Only when given: a message without it is queued exactly as before the field existed.
          ...(msg.sentAt !== undefined ? { sentAt: msg.sentAt } : {}),
        },
        true,
      );
      let outcome: TurnOutcome;
      if (answerAtTurnEnd) outcome = await new Promise<TurnOutcome>((resolve) => waiting.set(ticket, resolve));
      else {
        await wf.condition(() => outcomes.has(ticket));
        outcome = outcomes.get(ticket)!;
        outcomes.delete(ticket);
      }
      if (!outcome.ok) throw wf.ApplicationFailure.create({ ...outcome.error, nonRetryable: true });
      // Every turn that got here is stored (by the model call, persistTurn, or an earlier run): a caller that asked
      // to read it from there gets a reference; any other caller gets the whole result, as before the option.
      if (msg.replyFromStore === true) return { stored: true as const };
      return outcome.result;
    },
    {
      validator: (msg) => {
        const rejection =
          checkMessage(msg, policy) ??
          (ending ? { type: FailureTypes.conversationEnded, message: 'the conversation has ended' } : undefined) ??
          (closing ||
          queue.length >= MAX_PENDING_MESSAGES ||
          overdue() ||
          wf.workflowInfo().historyLength > HISTORY_EVENTS_HARD_LIMIT
            ? { type: FailureTypes.conversationBusy, message: 'the conversation is busy; retry shortly' }
            : undefined);
        if (rejection) throw wf.ApplicationFailure.create({ ...rejection, nonRetryable: true });
      },
    },
  );
  wf.setHandler(postMessageSignal, (msg) => {
    // A signal cannot be refused; an invalid one is logged and dropped (the API validates before signalling).
    const rejection = checkMessage(msg, policy);
    if (rejection || ending) wf.log.warn('dropped a signalled message', { messageId: msg.messageId, ...rejection });
    else
      enqueue({
        messageId: msg.messageId,
        content: msg.content,
        ...(msg.sentAt !== undefined ? { sentAt: msg.sentAt } : {}),
      });
  });
  wf.setHandler(endConversationSignal, ({ reason }) => {
    wf.log.info('conversation ending', { reason });
    ending = true;
  });

  if (input.carried) {
    // A continued run starts on the policy it was handed (its validators need one at once) and picks up the
    // worker's current configuration as soon as this returns — no await on the continue-as-new path.
    void readPolicy().then((current) => (policy = current));
  } else {
    const open = wf.patched(LOCAL_TURN_STEPS_PATCH) ? local.openConversation : openConversation;
    const opening = open({
      ...scope,
      userId: input.userId,
      systemPrompt: input.systemPrompt,
      ...(input.tools && input.tools.length > 0 ? { tools: input.tools } : {}),
    });
    const seed = await opening.catch((err: unknown) => {
      // A tool this worker does not offer: nothing was stored; the messages that started the run are refused.
      if (failureType(err) !== FailureTypes.unknownTool) throw err;
      return { refused: err instanceof Error ? (err.cause ?? err) : err } as const;
    });
    if ('refused' in seed) {
      const message = seed.refused instanceof Error ? seed.refused.message : 'unknown tool';
      for (const t of queue.splice(0)) {
        settle(t.id, {
          ok: false,
          error: { type: FailureTypes.unknownTool, message, at: new Date().toISOString() },
        });
      }
      await wf.condition(wf.allHandlersFinished);
      return { status: 'ended', turnCount: 0, totals: state.totals };
    }
    tools = seed.tools ?? [];
    userKey = seed.userKey;
    Object.assign(
      state,
      initialState(tenantId, conversationId, { ...seed, fallbacks: 0, lastError: null, pending: [] }),
    );
    Object.assign(background.counters, state.memory);
    state.memory = background.counters;
    state.pendingMessages = queue.length;
  }
  visibility.publish();
  background.index(); // catch up on anything a previous run left unindexed

  let idleSince = Date.now();
  let idleUpkeepDone = false;
  const idle = new IdleTimer(wf.patched(IDLE_TIMER_KEPT_PATCH));
  for (;;) {
    const quietFor = Date.now() - idleSince;
    const untilIdleUpkeep = idleUpkeepDone ? Infinity : policy.compactWhenIdleMs - quietFor;
    const wait = Math.max(1, Math.min(policy.idleTimeoutMs - quietFor, untilIdleUpkeep));
    const woke = await idle.waitFor(() => queue.length > 0 || ending, wait);
    if (!woke) {
      // Quiet for a while: visibility catches up on turns a batched publish left out.
      if (visibility.batched) visibility.publish();
      if (Date.now() - idleSince >= policy.idleTimeoutMs) {
        closing = wf.patched(UPKEEP_SETTLES_PATCH);
        break;
      }
      // A kept timer may have been armed before the last turn: it wakes early, and is armed again for the rest.
      if (idle.kept && Date.now() - idleSince < policy.compactWhenIdleMs) continue;
      background.whenIdle();
      idleUpkeepDone = true;
      continue;
    }
    if (ending) {
      // Messages still queued when the conversation ends are refused, not silently dropped.
      for (const t of queue.splice(0)) {
        settle(t.id, {
          ok: false,
          error: {
            type: FailureTypes.conversationEnded,
            message: 'the conversation has ended',
            at: new Date().toISOString(),
          },
        });
      }
      state.pendingMessages = 0;
      break;
    }
    const ticket = queue[0]!;
    background.turnStarting();
    const outcome = await runTurn(
      scope,
      ticket.message,
      state.turnCount + 1,
      policy,
      tools.length > 0 ? { tools, approvals } : undefined,
    );
    queue.shift();
    handledThisRun++;
    state.pendingMessages = queue.length;
    recordTurn(state, outcome);
    if (!outcome.ok || outcome.fresh)
      wf.setCurrentDetails(lastTurnDetails(outcome.ok ? state.turnCount : state.turnCount + 1, outcome));
    settle(ticket.id, outcome);
    if (outcome.ok && outcome.fresh) {
      turnsThisRun++;
      background.afterTurn(
        ticket.message.content.length,
        outcome.result.reply.content.length,
        holdUpkeepAtRunEnd && runDue(),
      );
    }
    visibility.afterChange();
    idleSince = Date.now();
    idleUpkeepDone = false;

    if (dueAfterHandled === undefined && runDue()) dueAfterHandled = handledThisRun;
    // Due with only signalled messages queued: they go to the next run, with whatever signals arrive meanwhile.
    const handOver = carrySignalsWhenDue && runDue() && onlySignalled() && carriedFits();
    if (runDue() && (queue.length === 0 || handOver)) {
      // A message accepted meanwhile waits on this loop, so it must wake us too: then it is answered first and
      // continue-as-new is tried again after it. No await between the check and continueAsNew.
      // Summary and fact calls still running would report their tokens to this run after it had gone.
      const settleUpkeep = wf.patched(UPKEEP_SETTLES_PATCH);
      // Handing over, an update accepted meanwhile is answered first (the signals ahead of it in this run too).
      await wf.condition(
        () =>
          (wf.allHandlersFinished() && !(settleUpkeep && background.accounting)) ||
          (handOver ? !onlySignalled() || !carriedFits() : queue.length > 0),
      );
      if ((handOver ? onlySignalled() && carriedFits() : queue.length === 0) && !ending) {
        const pending = queue.map((t) => t.message);
        return wf.continueAsNew<typeof conversationWorkflow>({
          tenantId,
          conversationId,
          policy,
          carried: { ...carry(state, pending, userKey), ...carryTools() },
        });
      }
    }
  }

  state.status = ending ? 'ended' : 'idle';
  visibility.publish();
  const settleUpkeep = wf.patched(UPKEEP_SETTLES_PATCH);
  await wf.condition(() => wf.allHandlersFinished() && !(settleUpkeep && background.accounting));
  if (settleUpkeep) {
    if (queue.length > 0 && !ending) {
      // Signalled while this run was closing: the next run answers them.
      return wf.continueAsNew<typeof conversationWorkflow>({
        tenantId,
        conversationId,
        policy,
        carried: {
          ...carry(
            state,
            queue.map((t) => t.message),
            userKey,
          ),
          ...carryTools(),
        },
      });
    }
    visibility.publish(); // the totals now include the last summary and fact jobs
  }
  return { status: state.status, turnCount: state.turnCount, totals: state.totals };
}
