/**
 * One model call from an activity, accounted: heartbeats while it runs, a row in `llm_calls` whatever happens,
 * metrics, token calibration, and a classified `ApplicationFailure` (with `retry-after`) when it fails.
 */
import { randomBytes } from 'node:crypto';
import type Anthropic from '@anthropic-ai/sdk';
import { Context } from '@temporalio/activity';
import { addUsage, ZERO_USAGE, type Usage } from '../workflows/contract';
import type { ModelCallResult } from '../src/model/client';
import { classifyModelError, toApplicationFailure } from '../src/model/errors';
import { estimateRequestTokens } from '../src/model/prompt';
import type { LlmCallRow, LlmPurpose } from '../src/storage/llm-calls';
import type { ActivityDeps } from './deps';
import { activityLogger, secondsSince } from './log-context';

export interface CallScope {
  tenantId: string;
  conversationId: string;
  /** What the call is for: the user message of a reply, or a label like `summary-v3`. */
  messageId: string;
  turn: number;
  purpose: LlmPurpose;
}

export interface RecordedCall {
  result: ModelCallResult;
  usage: Usage;
  /** Row id in `llm_calls`: unique per activity attempt. */
  callId: string;
  /** The call's ledger row when the caller asked to write it (`deferLedger`): written by nobody yet. */
  unwritten?: LlmCallRow;
}

export interface CallOptions {
  onText?: (delta: string) => void;
  /**
   * A successful call's ledger row is returned, not written: the caller writes it with what it stores next (the
   * turn, one flush for both) and must write it alone if that fails. A failed call's row is always written here.
   */
  deferLedger?: boolean;
  /** What aborts the call: the activity's cancellation unless given (a handed-over call's own, activities/reply-handover.ts). */
  signal?: AbortSignal;
  /** The activity's heartbeat unless given (a handed-over call's adopter heartbeats instead). */
  heartbeat?: () => void;
}

/** Well inside the reply's heartbeat timeout (workflows/model-chain.ts); the SDK throttles what it sends. */
export const HEARTBEAT_EVERY_MS = 1_000;
const ZERO_TOKENS = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
};

/**
 * What every `llm_calls.call_id` of the current activity starts with, whatever the attempt: the workflow run and
 * the activity's id within it. A retry finds there what an earlier attempt committed before its result was lost.
 */
export function activityCallPrefix(): string {
  const { activityId, workflowExecution } = Context.current().info;
  return `${workflowExecution?.runId ?? 'standalone'}/${activityId}/`;
}

/**
 * A local activity whose workflow task was lost runs again from attempt 1 (MEMOIR_MODEL_CALL=local): its calls get a
 * nonce of their own, or the second call's row would be dropped as the first's retried write (ON CONFLICT DO
 * NOTHING) and the turn's store would accept the first, failed one.
 */
const executionNonce = () => `.${randomBytes(4).toString('hex')}`;

export async function recordedModelCall(
  deps: ActivityDeps,
  scope: CallScope,
  request: Anthropic.MessageCreateParamsNonStreaming,
  { onText, deferLedger = false, signal, heartbeat }: CallOptions = {},
): Promise<RecordedCall> {
  const ctx = Context.current();
  const beat = heartbeat ?? (() => ctx.heartbeat());
  const { attempt } = ctx.info;
  const model = request.model;
  const callId = `${activityCallPrefix()}${attempt}${ctx.info.isLocal ? executionNonce() : ''}`;
  const row = { ...scope, callId, model, attempt };
  const started = performance.now();
  const heartbeats = setInterval(beat, HEARTBEAT_EVERY_MS);
  let first = true;
  const text = (delta: string) => {
    if (first && scope.purpose === 'reply') deps.metrics.timeToFirstToken.observe({ model }, secondsSince(started));
    first = false;
    onText?.(delta);
  };
  let result: ModelCallResult;
  try {
    result = await deps.model.call(request, { signal: signal ?? ctx.cancellationSignal, onText: text });
  } catch (err) {
    const failure = classifyModelError(err);
    deps.metrics.modelCalls.inc({ model, purpose: scope.purpose, outcome: failure.type });
    if (failure.retryable) deps.metrics.retries.inc({ model, error_type: failure.type });
    const latencyMs = Math.round(performance.now() - started);
    activityLogger(deps.log).warn(
      {
        model,
        purpose: scope.purpose,
        failure: failure.type,
        status: failure.status,
        requestId: failure.requestId,
        latencyMs,
      },
      'model call failed',
    );
    await deps.llmCalls.record({
      ...row,
      outcome: failure.type,
      errorType: failure.type,
      ...ZERO_TOKENS,
      costUsd: 0,
      latencyMs,
      requestId: failure.requestId,
    });
    throw toApplicationFailure(failure, attempt, deps.modelSettings.retry);
  } finally {
    clearInterval(heartbeats);
  }
  const t = result.tokens;
  const ledgerRow: LlmCallRow = {
    ...row,
    outcome: 'ok',
    ...t,
    costUsd: result.costUsd,
    latencyMs: result.latencyMs,
    requestId: result.requestId,
  };
  if (!deferLedger) await deps.llmCalls.record(ledgerRow);
  const cacheWrite = t.cacheWrite5mTokens + t.cacheWrite1hTokens;
  deps.metrics.recordCall(model, scope.purpose, {
    input: t.inputTokens,
    output: t.outputTokens,
    cacheRead: t.cacheReadTokens,
    cacheWrite,
    costUsd: result.costUsd,
  });
  deps.calibration.observe(model, estimateRequestTokens(request), t.inputTokens + t.cacheReadTokens + cacheWrite);
  const usage = addUsage(ZERO_USAGE, {
    inputTokens: t.inputTokens,
    outputTokens: t.outputTokens,
    cacheReadTokens: t.cacheReadTokens,
    cacheWriteTokens: cacheWrite,
    costUsd: result.costUsd,
  });
  return { result, usage, callId, ...(deferLedger ? { unwritten: ledgerRow } : {}) };
}
