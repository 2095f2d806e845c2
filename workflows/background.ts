/**
 * Memory upkeep that runs beside the conversation, never in front of a reply: indexing new messages, compacting
 * history into the rolling summary, extracting facts. Each job runs at most once at a time; a request while it
 * runs schedules one more pass. Their effects live in PostgreSQL, so a job cut short by continue-as-new or
 * completion loses nothing: the next run's pass picks up where it stopped.
 */
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CompactResult } from '../activities/memory';
import { UPKEEP_MAX_ATTEMPTS, type ConversationPolicy, type Usage } from './contract';

const { indexMessages } = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  // Unlimited: an index outage ends when the store is back, and then everything missed is indexed.
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '60s' },
});
const UPKEEP_RETRY = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '60s',
  maximumAttempts: UPKEEP_MAX_ATTEMPTS,
};
const { compactHistory, extractFacts } = proxyActivities<Activities>({
  startToCloseTimeout: '3m',
  heartbeatTimeout: '1m',
  retry: UPKEEP_RETRY,
});

export interface MemoryCounters {
  unsummarizedMessages: number;
  unsummarizedTokens: number;
  turnsSinceFacts: number;
  summaryVersion: number | null;
}

interface Job {
  running: boolean;
  again: boolean;
}

export class Background {
  private readonly jobs = { index: newJob(), compact: newJob(), facts: newJob() };
  private forceCompact = false;

  constructor(
    private readonly scope: { tenantId: string; conversationId: string },
    private readonly policy: () => ConversationPolicy,
    readonly counters: MemoryCounters,
    /** Usage of summary and fact calls, added to the conversation's totals. */
    private readonly onUsage: (usage: Usage) => void,
    private readonly turn: () => number,
  ) {}

  get busy(): boolean {
    return Object.values(this.jobs).some((j) => j.running);
  }

  /** A job that will report model usage is running (indexing reports none, and may wait out a long outage). */
  get accounting(): boolean {
    return this.jobs.compact.running || this.jobs.facts.running;
  }

  /** After a stored turn: count it, then start whatever is due. */
  afterTurn(userChars: number, replyChars: number): void {
    const c = this.counters;
    c.unsummarizedMessages += 2;
    c.unsummarizedTokens += Math.ceil((userChars + replyChars) / 4);
    c.turnsSinceFacts++;
    this.index();
    const p = this.policy();
    if (c.unsummarizedMessages > p.compactAfterMessages || c.unsummarizedTokens > p.compactAfterTokens)
      this.compact(false);
    if (c.turnsSinceFacts >= p.factsEveryTurns) this.facts();
  }

  /** When the conversation has been quiet: fold what can be folded and catch up on facts. */
  whenIdle(): void {
    if (this.counters.unsummarizedMessages > this.policy().keepRecentMessages) this.compact(true);
    if (this.counters.turnsSinceFacts > 0) this.facts();
  }

  index(): void {
    this.run(this.jobs.index, async () => {
      await indexMessages(this.scope);
    });
  }

  private compact(force: boolean): void {
    this.forceCompact ||= force;
    this.run(this.jobs.compact, async () => {
      const p = this.policy();
      const force = this.forceCompact;
      this.forceCompact = false;
      const r: CompactResult = await compactHistory.executeWithOptions(
        {
          startToCloseTimeout: '3m',
          retry: UPKEEP_RETRY,
          summary: `compact · turn ${this.turn()}`,
        },
        [
          {
            ...this.scope,
            keepRecent: p.keepRecentMessages,
            afterMessages: p.compactAfterMessages,
            afterTokens: p.compactAfterTokens,
            force,
            turn: this.turn(),
          },
        ],
      );
      this.counters.unsummarizedMessages = r.remainingMessages;
      this.counters.unsummarizedTokens = r.remainingTokens;
      this.counters.summaryVersion = r.version;
      this.onUsage(r.usage);
    });
  }

  private facts(): void {
    this.run(this.jobs.facts, async () => {
      this.counters.turnsSinceFacts = 0;
      const r = await extractFacts.executeWithOptions(
        {
          startToCloseTimeout: '3m',
          retry: UPKEEP_RETRY,
          summary: `facts · turn ${this.turn()}`,
        },
        [{ ...this.scope, turn: this.turn() }],
      );
      this.onUsage(r.usage);
    });
  }

  private run(job: Job, pass: () => Promise<void>): void {
    if (job.running) {
      job.again = true;
      return;
    }
    job.running = true;
    void (async () => {
      do {
        job.again = false;
        try {
          await pass();
        } catch (err) {
          // Upkeep never fails the conversation; the next trigger tries again from PostgreSQL's watermarks.
          log.warn('memory upkeep failed', { error: err instanceof Error ? err.message : String(err) });
        }
      } while (job.again);
      job.running = false;
    })();
  }
}

function newJob(): Job {
  return { running: false, again: false };
}
