/**
 * `runTool`: one tool call as its own activity. The input and the result stay in PostgreSQL (tool_calls); the
 * workflow gets the outcome only. Tool errors are results (is_error), never failed turns. A non-idempotent tool
 * runs at most once: an attempt that finds an earlier attempt's start mark without a result does not run it again.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ToolCallOutcome } from '../workflows/contract';
import type { ApprovalRecord, ToolCallResult } from '../src/storage/tool-calls';
import type { ActivityDeps } from './deps';
import { activityLogger } from './log-context';

export interface RunToolInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  toolUseId: string;
  name: string;
  /** The conversation's tools: a name outside them is refused, whatever the worker offers. */
  tools: string[];
  /** A person's decision when the tool needs approval; denied and timed-out calls are recorded, not run. */
  approval?: ApprovalRecord;
  /** The turn reached its step limit before this call could run. */
  stepLimit?: boolean;
}

export interface ToolRunSummary {
  outcome: ToolCallOutcome;
  isError: boolean;
}

/** Heartbeats well inside the call's heartbeat timeout (workflows/tool-loop.ts), so a dead worker is noticed fast. */
const HEARTBEAT_EVERY_MS = 1_000;

export const NOT_RERUN_MESSAGE = (tool: string) =>
  `The tool ${tool} was started but its result was lost (the worker running it stopped). It is not safe to run ` +
  'twice, so it was not run again: it may or may not have taken effect. Tell the user, and do not assume either.';

export interface AnnounceApprovalInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  toolUseId: string;
}

export function toolActivities(deps: ActivityDeps) {
  return {
    /**
     * Publishes `tool_approval_required` on the turn's stream, with the call's input (read here: it never enters
     * history). Best effort like every stream event: the pending approval is in the workflow's state regardless.
     */
    async announceToolApproval(input: AnnounceApprovalInput): Promise<void> {
      const call = await deps.tools?.calls.get(input.tenantId, input.conversationId, input.toolUseId);
      if (!call || !deps.streams) return;
      await deps.streams
        .publish(input, {
          type: 'tool_approval_required',
          toolUseId: call.toolUseId,
          tool: call.tool,
          input: call.input,
        })
        .catch(() => deps.metrics.tierErrors.inc({ tier: 'stream' }));
    },

    async runTool(input: RunToolInput): Promise<ToolRunSummary> {
      const tools = deps.tools;
      if (!tools) throw ApplicationFailure.nonRetryable('this worker has no tool registry', 'UnknownTool');
      const { tenantId, conversationId, toolUseId, name } = input;
      const before = await tools.calls.markStarted(tenantId, conversationId, toolUseId);
      if (!before) throw ApplicationFailure.nonRetryable(`no tool call ${toolUseId} is recorded`, 'ToolCallMissing');
      if (before.outcome !== null) return { outcome: before.outcome, isError: before.isError };
      const finish = async (r: ToolCallResult): Promise<ToolRunSummary> => {
        await tools.calls.complete(tenantId, conversationId, toolUseId, r);
        // A late duplicate finds the first outcome recorded and reports that one.
        const row = await tools.calls.get(tenantId, conversationId, toolUseId);
        return { outcome: row?.outcome ?? r.outcome, isError: row?.isError ?? r.isError };
      };

      if (input.stepLimit) {
        return finish({
          outcome: 'step_limit',
          result: 'Not run: the turn reached its limit of tool steps.',
          isError: true,
        });
      }
      if (input.approval && input.approval.decision !== 'approved') {
        const denied = input.approval.decision === 'denied';
        const who = input.approval.by ? ` by ${input.approval.by}` : '';
        const why = input.approval.reason ? `: ${input.approval.reason}` : '';
        return finish({
          outcome: denied ? 'denied' : 'approval_timeout',
          result: denied
            ? `The user denied this call${who}${why}. It was not run.`
            : 'Nobody approved this call in time. It was not run.',
          isError: true,
          approval: input.approval,
        });
      }
      const info = tools.registry.info(name);
      if (!info || !input.tools.includes(name)) {
        return finish({ outcome: 'error', result: `No tool named ${name} is available here.`, isError: true });
      }
      if (!info.idempotent && before.startedAt !== null) {
        activityLogger(deps.log).warn({ tool: name, toolUseId }, 'non-idempotent tool call found started: not re-run');
        return finish({ outcome: 'not_rerun', result: NOT_RERUN_MESSAGE(name), isError: true });
      }

      const ctx = Context.current();
      const timeout = AbortSignal.timeout(info.timeoutMs);
      const signal = AbortSignal.any([ctx.cancellationSignal, timeout]);
      const heartbeat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      const started = performance.now();
      let output: { content: string; isError?: boolean | undefined };
      try {
        output = await Promise.race([
          tools.registry.call(name, before.input, { tenantId, conversationId, toolUseId, signal }),
          new Promise<never>((_, reject) =>
            timeout.addEventListener('abort', () => reject(new Error(`timed out after ${info.timeoutMs} ms`))),
          ),
        ]);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // An idempotent tool may be tried again with the same key; anything else goes back to the model now.
        if (info.idempotent && ctx.info.attempt < info.retry.maximumAttempts) {
          throw ApplicationFailure.create({ message, type: 'ToolFailed' });
        }
        output = { content: `The tool failed: ${message}`, isError: true };
      } finally {
        clearInterval(heartbeat);
      }
      const durationMs = Math.round(performance.now() - started);
      return finish({
        outcome: output.isError ? 'error' : 'ok',
        result: output.content,
        isError: output.isError === true,
        durationMs,
        ...(input.approval ? { approval: input.approval } : {}),
      });
    },
  };
}
