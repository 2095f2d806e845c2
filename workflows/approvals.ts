/**
 * Tool calls waiting for a person. A call that needs approval parks here; `approveToolCall` / `denyToolCall`
 * decide it (the validator refuses ids that are not waiting, before anything reaches history), or the approval
 * timeout does.
 */
import { ApplicationFailure, condition, setCurrentDetails } from '@temporalio/workflow';
import { FailureTypes, type PendingApproval, type ToolDecision } from './contract';

/** A decision as recorded with the call (tool_calls.approval). */
export interface ApprovalDecision {
  decision: 'approved' | 'denied' | 'timeout';
  by: string | null;
  reason: string | null;
  at: string;
}

const MAX_BY_LENGTH = 200;
const MAX_REASON_LENGTH = 2_000;

export class ToolApprovals {
  private readonly waiting = new Map<string, { pending: PendingApproval; decision?: ApprovalDecision }>();

  list(): PendingApproval[] {
    return [...this.waiting.values()].map((w) => w.pending);
  }

  /** Parks the call until it is decided or `timeoutMs` passes (then it counts as timed out). */
  async wait(
    call: { toolUseId: string; name: string },
    messageId: string,
    timeoutMs: number,
  ): Promise<ApprovalDecision> {
    const now = Date.now();
    const entry: { pending: PendingApproval; decision?: ApprovalDecision } = {
      pending: {
        toolUseId: call.toolUseId,
        tool: call.name,
        messageId,
        requestedAt: new Date(now).toISOString(),
        expiresAt: new Date(now + timeoutMs).toISOString(),
      },
    };
    this.waiting.set(call.toolUseId, entry);
    this.showDetails();
    try {
      await condition(() => entry.decision !== undefined, timeoutMs);
    } finally {
      this.waiting.delete(call.toolUseId);
      this.showDetails();
    }
    return entry.decision ?? { decision: 'timeout', by: null, reason: null, at: new Date().toISOString() };
  }

  /** Update validator: the call must be waiting and undecided, and the decision well-formed. */
  check(d: ToolDecision): void {
    const entry = typeof d?.toolUseId === 'string' ? this.waiting.get(d.toolUseId) : undefined;
    if (!entry || entry.decision) {
      throw ApplicationFailure.create({
        message: `no tool call ${String(d?.toolUseId)} is waiting for a decision`,
        type: FailureTypes.toolCallNotPending,
        nonRetryable: true,
      });
    }
    const badBy = typeof d.by !== 'string' || d.by.length === 0 || d.by.length > MAX_BY_LENGTH;
    const badReason = d.reason !== undefined && (typeof d.reason !== 'string' || d.reason.length > MAX_REASON_LENGTH);
    if (badBy || badReason) {
      throw ApplicationFailure.create({
        message: `a decision needs \`by\` (1-${MAX_BY_LENGTH} characters) and an optional \`reason\` (at most ${MAX_REASON_LENGTH})`,
        type: FailureTypes.invalidMessage,
        nonRetryable: true,
      });
    }
  }

  decide(d: ToolDecision, approved: boolean): void {
    const entry = this.waiting.get(d.toolUseId);
    if (!entry || entry.decision) return; // decided meanwhile (the validator ran before an earlier update applied)
    entry.decision = {
      decision: approved ? 'approved' : 'denied',
      by: d.by,
      reason: d.reason ?? null,
      at: new Date().toISOString(),
    };
  }

  private showDetails(): void {
    const first = this.list()[0];
    if (!first) return;
    const more = this.waiting.size > 1 ? ` (+${this.waiting.size - 1} more)` : '';
    setCurrentDetails(
      `**Waiting for approval** · tool · ${first.tool} · call ${first.toolUseId}${more} · expires ${first.expiresAt}`,
    );
  }
}
