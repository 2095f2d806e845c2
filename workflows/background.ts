/**
 * Memory upkeep that runs beside the conversation, never in front of a reply: indexing new messages, compacting
 * history into the rolling summary, extracting facts. Each job runs at most once at a time; a request while it
 * runs schedules one more pass. Their effects live in PostgreSQL, so a job cut short by continue-as-new or
 * completion loses nothing: the next run's pass picks up where it stopped.
 */
import { log, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { fullUsage, UPKEEP_MAX_ATTEMPTS, type ConversationPolicy, type Usage } from './contract';

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

/**
 * Runs with this marker index new messages in batches rather than after every turn: once enough turns are
 * unindexed that the oldest of them is about to leave the recent window (which sends them verbatim), when the
 * conversation goes quiet, and at the start of each run. Indexing reads the `indexed_at` watermark, so a batch
 * picks up every message stored since the last one.
 */
export const INDEX_IN_BATCHES_PATCH = 'index-in-batches';

/**
 * Runs with this marker drop a pending idle fold when a user turn starts. An idle fold asked for while a compaction
 * ran waits for it to finish; by then the user may be back, and a forced fold would fold the window they are
 * talking in. The pass still runs, unforced: it folds only what the thresholds say.
 */
export const IDLE_FOLD_DROPPED_BY_TURN_PATCH = 'idle-fold-dropped-by-turn';

/** Turns left unindexed before a batch: the index must catch up before a message leaves the recent window. */
export function indexEveryTurns(keepRecentMessages: number): number {
  return Math.max(1, Math.floor(keepRecentMessages / 2) - 1);
}

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
  /** Stored turns since indexing was last asked for (batched indexing only). */
  private unindexedTurns = 0;

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
    const p = this.policy();
    if (!patched(INDEX_IN_BATCHES_PATCH) || ++this.unindexedTurns >= indexEveryTurns(p.keepRecentMessages))
      this.index();
    if (c.unsummarizedMessages > p.compactAfterMessages || c.unsummarizedTokens > p.compactAfterTokens)
      this.compact(false);
    if (c.turnsSinceFacts >= p.factsEveryTurns) this.facts();
  }

  /** A user turn is starting: an idle fold still waiting for a running compaction no longer applies. */
  turnStarting(): void {
    // Asked only when a fold is pending, so most runs record no marker (history bytes per turn).
    if (this.forceCompact && patched(IDLE_FOLD_DROPPED_BY_TURN_PATCH)) this.forceCompact = false;
  }

  /** When the conversation has been quiet: fold what can be folded and catch up on facts. */
  whenIdle(): void {
    if (this.unindexedTurns > 0) this.index();
    if (this.counters.unsummarizedMessages > this.policy().keepRecentMessages) this.compact(true);
    if (this.counters.turnsSinceFacts > 0) this.facts();
  }

  index(): void {
    this.unindexedTurns = 0;
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
      const r = await compactHistory.executeWithOptions(
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
      this.onUsage(fullUsage(r.usage));
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
      this.onUsage(fullUsage(r.usage));
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
