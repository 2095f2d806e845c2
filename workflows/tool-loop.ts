/**
 * The tool loop of one turn: a model step (the whole fallback chain, bounded by the turn deadline), then each
 * tool call it asked for as its own activity, concurrently, then the next step, rebuilt from PostgreSQL — until the
 * model ends its turn or the step limit is reached. Only references and outcomes pass through history.
 */
import { log, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ToolCallRef } from '../activities/generate-reply';
import { addUsage, ZERO_USAGE, type ConversationPolicy } from './contract';
import type { ApprovalDecision, ToolApprovals } from './approvals';
import { replyWithFallback, type ChainRequest, type ChainResult, type ChainStep } from './model-chain';

/** Marks runs that may run the tool loop (only conversations with tools ever reach it). */
export const TOOL_LOOP_PATCH = 'tool-loop';

/** A tool heartbeats every second (activities/tools.ts): a worker that dies mid-call is noticed within seconds. */
const TOOL_HEARTBEAT_TIMEOUT = '5s';
/** Beyond the tool's own bound: reading the call and recording its result. */
const TOOL_STORAGE_MARGIN_MS = 30_000;
/**
 * Attempts of a non-idempotent call's activity. Safe to retry: runTool never runs such a tool twice (its start
 * mark), so a second attempt after a crash records `not_rerun` and the model is told.
 */
const NON_IDEMPOTENT_ACTIVITY_ATTEMPTS = 3;
/** Headroom over an idempotent tool's own attempts for attempts lost to crashes and database outages. */
const INFRASTRUCTURE_ATTEMPTS = 2;

const { runTool } = proxyActivities<Activities>({ startToCloseTimeout: '60s' });
const { announceToolApproval } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});

export type ToolChainResult = ChainResult & { acceptedCallIds: string[] };

export async function replyWithTools(
  req: ChainRequest & { tools: string[] },
  policy: ConversationPolicy,
  approvals: ToolApprovals,
): Promise<ToolChainResult> {
  patched(TOOL_LOOP_PATCH);
  const steps: ChainStep[] = [];
  const acceptedCallIds: string[] = [];
  let usage = ZERO_USAGE;
  for (let step = 0; ; step++) {
    const chain = await replyWithFallback({ ...req, step }, policy);
    steps.push(...chain.steps);
    if (!chain.ok) return { ok: false, steps, acceptedCallIds };
    usage = addUsage(usage, chain.reply.usage);
    if (chain.reply.llmCallId) acceptedCallIds.push(chain.reply.llmCallId);
    const calls = chain.reply.toolCalls ?? [];
    const limitReached = step + 1 >= policy.maxToolSteps;
    if (calls.length === 0 || limitReached) {
      if (calls.length > 0) await Promise.all(calls.map((c) => runCall(req, c, { stepLimit: true })));
      const content = calls.length > 0 ? stepLimitReply(chain.reply.content, policy.maxToolSteps) : chain.reply.content;
      return { ok: true, reply: { ...chain.reply, content, usage }, steps, acceptedCallIds };
    }
    await Promise.all(
      calls.map(async (c) => {
        if (!c.needsApproval) return runCall(req, c, {});
        // Parked first, then announced: a client that answers the event at once finds the call waiting.
        const decided = approvals.wait(c, req.messageId, policy.toolApprovalTimeoutMs);
        // Best effort, like every stream event: the pending approval is in the state and details regardless.
        await announceToolApproval({
          tenantId: req.tenantId,
          conversationId: req.conversationId,
          messageId: req.messageId,
          toolUseId: c.toolUseId,
        }).catch((err: unknown) => log.warn('could not announce a pending approval', { error: String(err) }));
        return runCall(req, c, { approval: await decided });
      }),
    );
  }
}

async function runCall(
  req: ChainRequest & { tools: string[] },
  call: ToolCallRef,
  extra: { approval?: ApprovalDecision; stepLimit?: boolean },
): Promise<void> {
  const scope = { tenantId: req.tenantId, conversationId: req.conversationId, messageId: req.messageId };
  try {
    await runTool.executeWithOptions(
      {
        startToCloseTimeout: call.timeoutMs + TOOL_STORAGE_MARGIN_MS,
        heartbeatTimeout: TOOL_HEARTBEAT_TIMEOUT,
        retry: call.idempotent
          ? {
              maximumAttempts: call.maximumAttempts + INFRASTRUCTURE_ATTEMPTS,
              initialInterval: call.initialIntervalMs ?? 1_000,
              backoffCoefficient: 2,
            }
          : { maximumAttempts: NON_IDEMPOTENT_ACTIVITY_ATTEMPTS, initialInterval: '1s' },
        summary: `tool · ${call.name}`,
      },
      [{ ...scope, toolUseId: call.toolUseId, name: call.name, tools: req.tools, ...extra }],
    );
  } catch (err) {
    // The next step tells the model the call left no result; the turn goes on.
    log.warn('tool call failed for good', { tool: call.name, toolUseId: call.toolUseId, error: String(err) });
  }
}

function stepLimitReply(text: string, maxSteps: number): string {
  const note =
    `I stopped before finishing: this turn reached its limit of ${maxSteps} tool steps. ` +
    'Ask me to continue and I will pick up from here.';
  return text.trim() ? `${text.trim()}\n\n${note}` : note;
}
