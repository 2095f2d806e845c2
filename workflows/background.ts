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

/**
 * Runs with this marker extract facts and index in one activity when both fall due together (with the default
 * policy, every 4th turn): one activity and the workflow task its completion needs, fewer. Indexing that fails
 * there is handed to a separate indexMessages pass, which retries until the semantic tier is back.
 *
 * Read only from the answers at the run's start (run-patches.ts), never asked at its own place: a run recorded
 * before it keeps the separate jobs to its end, even on a worker that knows it, so no marker of it ever lands after
 * a local activity's result.
 */
export const FACTS_AND_INDEX_TOGETHER_PATCH = 'facts-and-index-together';

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
    /** Whether the run asked FACTS_AND_INDEX_TOGETHER_PATCH at its start and was answered true. */
    private readonly factsAndIndexTogether = false,
  ) {}

  get busy(): boolean {
    return Object.values(this.jobs).some((j) => j.running);
  }

  /** A job that will report model usage is running (indexing reports none, and may wait out a long outage). */
  get accounting(): boolean {
    return this.jobs.compact.running || this.jobs.facts.running;
  }

  /**
   * After a stored turn: count it, then start whatever is due. `runEnding`: the run is due to continue as new, which
   * waits for summary and fact calls to settle; none is started (nor asked to run again), so that wait ends however
   * fast messages keep coming. The counters travel to the next run, whose first turn starts what is still due.
   */
  afterTurn(userChars: number, replyChars: number, runEnding = false): void {
    const c = this.counters;
    c.unsummarizedMessages += 2;
    c.unsummarizedTokens += Math.ceil((userChars + replyChars) / 4);
    c.turnsSinceFacts++;
    const p = this.policy();
    this.start({
      index: !patched(INDEX_IN_BATCHES_PATCH) || ++this.unindexedTurns >= indexEveryTurns(p.keepRecentMessages),
      compact:
        !runEnding && (c.unsummarizedMessages > p.compactAfterMessages || c.unsummarizedTokens > p.compactAfterTokens),
      facts: !runEnding && c.turnsSinceFacts >= p.factsEveryTurns,
    });
  }

  /** A user turn is starting: an idle fold still waiting for a running compaction no longer applies. */
  turnStarting(): void {
    // Asked only when a fold is pending, so most runs record no marker (history bytes per turn).
    if (this.forceCompact && patched(IDLE_FOLD_DROPPED_BY_TURN_PATCH)) this.forceCompact = false;
  }

  /** When the conversation has been quiet: fold what can be folded and catch up on facts. */
  whenIdle(): void {
    this.start({
      index: this.unindexedTurns > 0,
      compact: this.counters.unsummarizedMessages > this.policy().keepRecentMessages,
      forceCompact: true,
      facts: this.counters.turnsSinceFacts > 0,
    });
  }

  /** Starts the jobs that are due, in this order (replay compares it); facts and indexing together when both are. */
  private start(due: { index: boolean; compact: boolean; forceCompact?: boolean; facts: boolean }): void {
    const together = due.index && due.facts && !this.jobs.index.running && !this.jobs.facts.running;
    if (together && this.factsAndIndexTogether) {
      this.facts(true);
      if (due.compact) this.compact(due.forceCompact ?? false);
      return;
    }
    if (due.index) this.index();
    if (due.compact) this.compact(due.forceCompact ?? false);
    if (due.facts) this.facts();
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

  /**
   * `withIndex`: the first pass indexes too, holding the index job meanwhile (both jobs are idle when asked). What it
   * could not index, or what was asked of the index job while it ran, is then the index job's.
   */
  private facts(withIndex = false): void {
    let indexing = withIndex;
    if (withIndex) {
      this.unindexedTurns = 0;
      this.jobs.index.running = true;
    }
    this.run(this.jobs.facts, async () => {
      const index = indexing;
      indexing = false;
      this.counters.turnsSinceFacts = 0;
      let indexed = false;
      try {
        const r = await extractFacts.executeWithOptions(
          {
            startToCloseTimeout: '3m',
            retry: UPKEEP_RETRY,
            summary: `${index ? 'facts + index' : 'facts'} · turn ${this.turn()}`,
          },
          [{ ...this.scope, turn: this.turn(), ...(index ? { index: true as const } : {}) }],
        );
        indexed = r.indexed === true;
        this.onUsage(fullUsage(r.usage));
      } finally {
        if (index) this.indexHandedBack(indexed);
      }
    });
  }

  /** The index job after a facts pass that indexed: free again, and run if that pass left anything to it. */
  private indexHandedBack(indexed: boolean): void {
    const job = this.jobs.index;
    job.running = false;
    if (!indexed || job.again) this.index(); // a new pass starts with `again` cleared (run)
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
