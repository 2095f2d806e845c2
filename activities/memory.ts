/**
 * Memory upkeep after turns, never on a turn's critical path: index new messages for semantic recall, fold old
 * history into the rolling summary, extract facts. Each is idempotent, so a retried or repeated run is harmless,
 * and each works from PostgreSQL's watermarks, so a run after an outage catches up on everything it missed.
 */
import { ApplicationFailure } from '@temporalio/common';
import { briefUsage, ZERO_USAGE, type BriefUsage, type Usage } from '../workflows/contract';
import { estimateTokens } from '../src/model/tokens';
import { completeSentences, factsRequest, parseFacts, summaryRequest } from '../src/memory/prompts';
import { factsBatch } from '../src/memory/facts';
import type { StoredMessage } from '../src/storage/conversations';
import type { ActivityDeps } from './deps';
import { erasedMeanwhile } from './erasure-fence';
import { activityLogger } from './log-context';
import { activityCallPrefix, recordedModelCall } from './model-call';

export interface MemoryScope {
  tenantId: string;
  conversationId: string;
}

export interface CompactInput extends MemoryScope {
  keepRecent: number;
  afterMessages: number;
  afterTokens: number;
  /**
   * The conversation has paused (the idle timer): fold everything unsummarised, the recent messages too, thresholds
   * or not. By the time a pause has lasted the idle threshold every 5-minute cache entry has expired, so the next
   * session writes its whole prefix again: starting it from the system prompt and the archive (whose older-messages
   * block keeps the newest lines before the pause verbatim, as room allows) writes the least.
   */
  force: boolean;
  turn: number;
}

export interface CompactResult {
  compacted: boolean;
  version: number | null;
  /** What remains unsummarised: the workflow decides from these when to compact next. */
  remainingMessages: number;
  remainingTokens: number;
  usage: Usage;
}

export interface FactsInput extends MemoryScope {
  turn: number;
  /** Index the conversation too, before the extraction (runs with patch `facts-and-index-together`). */
  index?: true;
}

export interface FactsResult {
  added: number;
  superseded: number;
  unchanged: number;
  usage: Usage;
  /**
   * Present when the call was asked to index: whether that indexing succeeded. False when the semantic tier failed:
   * the workflow then runs indexMessages, whose retries wait the outage out.
   */
  indexed?: boolean;
}

const NO_FACTS: FactsResult = { added: 0, superseded: 0, unchanged: 0, usage: ZERO_USAGE };

export function memoryActivities(deps: ActivityDeps) {
  /**
   * Indexes batch after batch until `next` finds nothing left, marking each done in PostgreSQL; a semantic store
   * failure is counted, then thrown (the activity retries).
   */
  const indexAll = async <T>(
    next: () => Promise<T[]>,
    index: (batch: T[]) => Promise<unknown>,
    mark: (batch: T[]) => Promise<void>,
    fence: () => Promise<boolean>,
  ): Promise<number> => {
    let indexed = 0;
    for (let batch = await next(); batch.length > 0; batch = await next()) {
      // Erased since this attempt began: the erasure removed the vectors, writing these would bring them back.
      if (await fence()) return indexed;
      try {
        await index(batch);
      } catch (err) {
        deps.metrics.tierErrors.inc({ tier: 'semantic' });
        throw err;
      }
      await mark(batch);
      indexed += batch.length;
    }
    return indexed;
  };

  /** Indexes what the conversation has not yet in the semantic tier: messages, then facts; returns how many. */
  const indexConversation = async (who: MemoryScope & { userId: string }): Promise<number> => {
    const semantic = deps.semantic;
    if (!semantic) return 0;
    const { tenantId, conversationId } = who;
    const erased = () => erasedMeanwhile(deps, who);
    const { indexBatch } = deps.memorySettings;
    let indexed = await indexAll(
      () => deps.conversations.unindexed(tenantId, conversationId, indexBatch),
      (batch) => {
        deps.metrics.indexingLag.set((Date.now() - batch[0]!.createdAt.getTime()) / 1000);
        deps.metrics.indexingBacklog.set(batch.length);
        return semantic.indexMessages(who, batch);
      },
      (batch) =>
        deps.conversations.markIndexed(
          tenantId,
          conversationId,
          batch.map((m) => m.seq),
        ),
      erased,
    );
    deps.metrics.indexingLag.set(0);
    deps.metrics.indexingBacklog.set(0);
    // Facts whose indexing failed when they were extracted (extractFacts indexes them best effort).
    indexed += await indexAll(
      () => deps.facts.unindexed(tenantId, conversationId, indexBatch),
      (facts) => semantic.indexFacts(who, facts),
      (facts) =>
        deps.facts.markIndexed(
          tenantId,
          conversationId,
          facts.map((f) => f.factId),
        ),
      erased,
    );
    return indexed;
  };

  /**
   * The indexing of a combined pass: its failure is counted and logged, not thrown. The facts are extracted all the
   * same, and the workflow hands the indexing to indexMessages, which retries until the semantic tier is back.
   */
  const indexedBestEffort = (who: MemoryScope & { userId: string }): Promise<boolean> =>
    indexConversation(who).then(
      () => true,
      (err: unknown) => {
        activityLogger(deps.log).warn(
          {
            tenantId: who.tenantId,
            conversationId: who.conversationId,
            error: err instanceof Error ? err.message : String(err),
          },
          'indexing beside fact extraction failed; indexMessages takes it over',
        );
        return false;
      },
    );

  const extract = async (who: MemoryScope & { userId: string }, turn: number): Promise<FactsResult> => {
    const { tenantId, conversationId } = who;
    // As in compactHistory: an earlier attempt that merged its facts reports its call, once.
    const committed = await deps.llmCalls.acceptedInActivity(tenantId, conversationId, activityCallPrefix());
    if (committed) return { ...NO_FACTS, usage: committed };
    const lastSeq = await deps.conversations.lastSeq(tenantId, conversationId);
    const through = await deps.conversations.factsThrough(tenantId, conversationId);
    // The oldest of the backlog first, and the watermark moves only past what was read: nothing is skipped.
    const batch = factsBatch(await deps.conversations.range(tenantId, conversationId, through + 1, lastSeq));
    const messages = batch.messages;
    const readThrough = batch.throughSeq ?? lastSeq;
    if (!messages.some((m) => m.role === 'user')) return NO_FACTS;
    const known = await deps.facts.active(tenantId, conversationId, 100);
    const call = await recordedModelCall(
      deps,
      { tenantId, conversationId, messageId: `facts-${readThrough}`, turn, purpose: 'facts' },
      factsRequest(deps.memorySettings.summaryModel, known, messages),
    );
    let extracted;
    try {
      extracted = parseFacts(call.result.text);
    } catch (err) {
      throw ApplicationFailure.create({
        message: `fact extraction was not valid JSON: ${String(err)}`,
        type: 'InvalidFacts',
      });
    }
    const ids = new Set(messages.map((m) => m.messageId));
    const merged = await deps.facts.merge(
      who,
      extracted.map((f) => ({ ...f, sourceMessageIds: f.sourceMessageIds.filter((id) => ids.has(id)) })),
      readThrough,
      call.callId,
    );
    if (deps.semantic && merged.added.length > 0 && !(await erasedMeanwhile(deps, who))) {
      // Best effort here; what fails is left unindexed and caught up by indexMessages.
      await deps.semantic
        .indexFacts(who, merged.added)
        .then(() =>
          deps.facts.markIndexed(
            tenantId,
            conversationId,
            merged.added.map((f) => f.factId),
          ),
        )
        .catch(() => deps.metrics.tierErrors.inc({ tier: 'semantic' }));
    }
    return {
      added: merged.added.length,
      superseded: merged.superseded.length,
      unchanged: merged.unchanged,
      usage: merged.applied ? call.usage : ZERO_USAGE,
    };
  };

  const activities = {
    /** Indexes every message and active fact of the conversation not yet in the semantic tier; returns how many. */
    async indexMessages(scope: MemoryScope): Promise<{ indexed: number }> {
      if (!deps.semantic) return { indexed: 0 };
      const conversation = await deps.conversations.get(scope.tenantId, scope.conversationId);
      if (!conversation) return { indexed: 0 };
      return { indexed: await indexConversation({ ...scope, userId: conversation.userId }) };
    },

    /** Folds all but the newest `keepRecent` messages into a new summary version when over a threshold; all of
     * them when the conversation has paused (`force`). */
    async compactHistory(input: CompactInput): Promise<CompactResult> {
      const { tenantId, conversationId } = input;
      const previous = await deps.summaries.latest(tenantId, conversationId);
      const lastSeq = await deps.conversations.lastSeq(tenantId, conversationId);
      const pending = await deps.conversations.range(tenantId, conversationId, (previous?.toSeq ?? 0) + 1, lastSeq);
      const tokens = pending.reduce((t, m) => t + estimateTokens(m.content), 0);
      const remaining = (
        compacted: boolean,
        version: number | null,
        left: StoredMessage[],
        usage = ZERO_USAGE,
      ): CompactResult => ({
        compacted,
        version,
        remainingMessages: left.length,
        remainingTokens: left.reduce((t, m) => t + estimateTokens(m.content), 0),
        usage,
      });
      const committed = await deps.llmCalls.acceptedInActivity(tenantId, conversationId, activityCallPrefix());
      if (committed) {
        // An earlier attempt saved its summary, then its result was lost (worker killed, server restarted):
        // report that one, so the workflow counts its tokens exactly once, rather than compact again.
        await deps.summaryCache.delete(`${tenantId}/${conversationId}`);
        return remaining(true, previous?.version ?? null, pending, committed);
      }
      const due = pending.length > input.afterMessages || tokens > input.afterTokens;
      const fold = pending.slice(0, Math.max(0, pending.length - (input.force ? 0 : input.keepRecent)));
      if (fold.length === 0 || !(due || input.force)) return remaining(false, previous?.version ?? null, pending);

      const version = (previous?.version ?? 0) + 1;
      const model = deps.memorySettings.summaryModel;
      // Append a segment that summarises only this fold, so the cached prefix (system, earlier segments) is still
      // read next turn; once the segments would pass their cap, rewrite them and the fold into one full summary.
      const archive = previous ? await deps.summaries.archive(tenantId, conversationId, previous.version) : [];
      const foldTokens = fold.reduce((t, m) => t + estimateTokens(m.content), 0);
      const archiveTokens = archive.reduce((t, s) => t + s.tokens, 0);
      const segment =
        archive.length > 0 &&
        archiveTokens + Math.min(foldTokens, deps.memorySettings.summaryMaxTokens) <=
          deps.memorySettings.summaryArchiveTokens;
      const priorText = archive.length > 0 ? archive.map((s) => s.text).join('\n\n') : null;
      const call = await recordedModelCall(
        deps,
        { tenantId, conversationId, messageId: `summary-v${version}`, turn: input.turn, purpose: 'summary' },
        summaryRequest(model, segment ? null : priorText, fold, deps.memorySettings.summaryMaxTokens),
      );
      // Cut off by its cap, a summary would end mid-sentence in every later prompt: keep its whole sentences.
      const raw = call.result.text.trim();
      const text = call.result.stopReason === 'max_tokens' ? completeSentences(raw) : raw;
      if (!text)
        throw ApplicationFailure.create({ message: 'the summary model returned nothing', type: 'EmptySummary' });
      const sourceTokens = (previous?.tokens ?? 0) + fold.reduce((t, m) => t + estimateTokens(m.content), 0);
      const summary = {
        version,
        toSeq: fold.at(-1)!.seq,
        text,
        tokens: estimateTokens(text),
        sourceTokens,
        facts: await deps.facts.active(tenantId, conversationId, 50),
        model,
        segment,
      };
      const inserted = await deps.summaries.save(tenantId, conversationId, summary, call.callId);
      await deps.summaryCache.delete(`${tenantId}/${conversationId}`);
      deps.metrics.compactions.inc({ outcome: inserted ? 'ok' : 'duplicate' });
      if (inserted) deps.metrics.compressionRatio.observe(sourceTokens / Math.max(1, summary.tokens));
      activityLogger(deps.log).info(
        {
          tenantId,
          conversationId,
          version,
          folded: fold.length,
          sourceTokens,
          summaryTokens: summary.tokens,
          ratio: sourceTokens / Math.max(1, summary.tokens),
        },
        'history compacted',
      );
      return remaining(inserted, version, pending.slice(fold.length), inserted ? call.usage : ZERO_USAGE);
    },

    /**
     * Extracts facts from messages since the last extraction and merges them (deduplicated, superseding). With
     * `index`, indexes the conversation first as indexMessages does: one activity where both fell due together.
     */
    async extractFacts(input: FactsInput): Promise<FactsResult> {
      const { tenantId, conversationId } = input;
      const conversation = await deps.conversations.get(tenantId, conversationId);
      const who = conversation ? { tenantId, conversationId, userId: conversation.userId } : null;
      // Nothing to index without the conversation, as indexMessages would find.
      const indexed = input.index ? who === null || (await indexedBestEffort(who)) : undefined;
      const facts = who ? await extract(who, input.turn) : NO_FACTS;
      return indexed === undefined ? facts : { ...facts, indexed };
    },
  };
  // Usage leaves out its zero counts in history (see BriefUsage); the workflow fills them back.
  return {
    ...activities,
    async compactHistory(input: CompactInput): Promise<Brief<CompactResult>> {
      const r = await activities.compactHistory(input);
      return { ...r, usage: briefUsage(r.usage) };
    },
    async extractFacts(input: FactsInput): Promise<Brief<FactsResult>> {
      const r = await activities.extractFacts(input);
      return { ...r, usage: briefUsage(r.usage) };
    },
  };
}

/** A result as it is recorded: its usage brief. */
type Brief<T extends { usage: Usage }> = Omit<T, 'usage'> & { usage: BriefUsage };
