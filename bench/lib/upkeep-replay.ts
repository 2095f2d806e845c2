/**
 * The turn path's memory upkeep, replayed in line for the recall tuning harness (bench/tune-recall.ts), so that its
 * conversations end in the state the LoCoMo suite's feed leaves them in: the workflow's triggers
 * (workflows/background.ts — compact past N unsummarised messages or tokens keeping the newest K, extract facts
 * every F turns) decide, the activities' rules decide what is folded and whether a fold appends a segment or
 * consolidates (activities/memory.ts), and the same requests (src/memory/prompts.ts) are answered by the offline
 * model's responder — the one the suite's feed talks to. The worker runs these beside the turns; here they run
 * after each turn, which is what the suite's feed converges to (it waits for upkeep to settle before asking).
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { ConversationPolicy } from '../../workflows/contract';
import { factsBatch, type FactStore } from '../../src/memory/facts';
import { factsRequest, parseFacts, summaryRequest } from '../../src/memory/prompts';
import type { SemanticTier } from '../../src/memory/semantic-tier';
import type { SummaryStore } from '../../src/memory/summaries';
import { estimateTokens } from '../../src/model/tokens';
import { offlineReply } from '../../src/offline-model/responder';
import type { ConversationStore } from '../../src/storage/conversations';

export interface UpkeepDeps {
  conversations: ConversationStore;
  summaries: SummaryStore;
  facts: FactStore;
  semantic: SemanticTier;
  policy: Pick<
    ConversationPolicy,
    'compactAfterMessages' | 'compactAfterTokens' | 'keepRecentMessages' | 'factsEveryTurns'
  >;
  /** As the worker sets them (src/runtime/worker.ts). */
  summaryModel: string;
  summaryMaxTokens: number;
  summaryArchiveTokens: number;
}

type Scope = { tenantId: string; conversationId: string; userId: string };

/** What the offline model answers to a request, as its HTTP server would. */
function offline(req: Anthropic.MessageCreateParamsNonStreaming): string {
  const text = (c: string | { type: string; text?: string }[]) =>
    typeof c === 'string' ? c : c.map((b) => b.text ?? '').join('');
  return offlineReply({
    system: req.system === undefined ? '' : text(req.system),
    messages: req.messages.map((m) => ({
      role: m.role === 'assistant' ? ('assistant' as const) : ('user' as const),
      text: text(m.content as string | { type: string; text?: string }[]),
    })),
  });
}

/** One conversation's upkeep: call `afterTurn` after each persisted turn. */
export class UpkeepReplay {
  private unsummarised = { messages: 0, tokens: 0 };
  private turnsSinceFacts = 0;

  constructor(
    private readonly deps: UpkeepDeps,
    private readonly scope: Scope,
  ) {}

  async afterTurn(userChars: number, replyChars: number): Promise<void> {
    const p = this.deps.policy;
    this.unsummarised.messages += 2;
    this.unsummarised.tokens += Math.ceil((userChars + replyChars) / 4);
    this.turnsSinceFacts++;
    if (this.unsummarised.messages > p.compactAfterMessages || this.unsummarised.tokens > p.compactAfterTokens)
      await this.compact();
    if (this.turnsSinceFacts >= p.factsEveryTurns) await this.extractFacts();
  }

  /** compactHistory's rules: fold all but the newest K when due; a segment unless the archive would pass its cap. */
  private async compact(): Promise<void> {
    const { conversations, summaries, facts, policy } = this.deps;
    const { tenantId, conversationId } = this.scope;
    const previous = await summaries.latest(tenantId, conversationId);
    const lastSeq = await conversations.lastSeq(tenantId, conversationId);
    const pending = await conversations.range(tenantId, conversationId, (previous?.toSeq ?? 0) + 1, lastSeq);
    const tokensOf = (ms: { content: string }[]) => ms.reduce((t, m) => t + estimateTokens(m.content), 0);
    const fold = pending.slice(0, Math.max(0, pending.length - policy.keepRecentMessages));
    const due = pending.length > policy.compactAfterMessages || tokensOf(pending) > policy.compactAfterTokens;
    if (fold.length > 0 && due) {
      const archive = previous ? await summaries.archive(tenantId, conversationId, previous.version) : [];
      const archiveTokens = archive.reduce((t, s) => t + s.tokens, 0);
      const segment =
        archive.length > 0 &&
        archiveTokens + Math.min(tokensOf(fold), this.deps.summaryMaxTokens) <= this.deps.summaryArchiveTokens;
      const prior = archive.length > 0 ? archive.map((s) => s.text).join('\n\n') : null;
      const text = offline(
        summaryRequest(this.deps.summaryModel, segment ? null : prior, fold, this.deps.summaryMaxTokens),
      ).trim();
      await summaries.save(tenantId, conversationId, {
        version: (previous?.version ?? 0) + 1,
        toSeq: fold.at(-1)!.seq,
        text,
        tokens: estimateTokens(text),
        sourceTokens: (previous?.tokens ?? 0) + tokensOf(fold),
        facts: await facts.active(tenantId, conversationId, 50),
        model: this.deps.summaryModel,
        segment,
      });
    }
    const left = due ? pending.slice(fold.length) : pending;
    this.unsummarised = { messages: left.length, tokens: tokensOf(left) };
  }

  /** extractFacts' rules: the backlog's oldest batch, merged, the new facts indexed for semantic recall. */
  private async extractFacts(): Promise<void> {
    const { conversations, facts, semantic } = this.deps;
    const { tenantId, conversationId } = this.scope;
    this.turnsSinceFacts = 0;
    const lastSeq = await conversations.lastSeq(tenantId, conversationId);
    const through = await conversations.factsThrough(tenantId, conversationId);
    const batch = factsBatch(await conversations.range(tenantId, conversationId, through + 1, lastSeq));
    if (!batch.messages.some((m) => m.role === 'user')) return;
    const known = await facts.active(tenantId, conversationId, 100);
    const extracted = parseFacts(offline(factsRequest(this.deps.summaryModel, known, batch.messages)));
    const ids = new Set(batch.messages.map((m) => m.messageId));
    const merged = await facts.merge(
      this.scope,
      extracted.map((f) => ({ ...f, sourceMessageIds: f.sourceMessageIds.filter((id) => ids.has(id)) })),
      batch.throughSeq ?? lastSeq,
    );
    if (merged.added.length === 0) return;
    await semantic.indexFacts(this.scope, merged.added);
    await facts.markIndexed(
      tenantId,
      conversationId,
      merged.added.map((f) => f.factId),
    );
  }
}
