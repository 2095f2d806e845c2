/**
 * Assembles what the model sees for a turn, progressively and under a token budget:
 *
 *   1. always — system prompt, rolling summary with its facts, every message since the summary (at least the
 *      newest N), the new message;
 *   2. while under `recallShare` of the budget — recalled memories: lexical (PostgreSQL full-text) and semantic
 *      (vector store) results fused by reciprocal rank, at least the top k, de-duplicated against the window;
 *   3. while under `olderShare` — older messages, newest first.
 *
 * Tiers load concurrently. A tier that fails or is slow is left out and flagged; only PostgreSQL is required
 * (its failure fails the activity, which Temporal retries until it is back).
 */
import type { Metrics } from '../metrics';
import type { FactStore, FactView } from '../memory/facts';
import { reciprocalRankFusion } from '../memory/fusion';
import type { HotTier } from '../memory/hot-tier';
import { searchMessages } from '../memory/lexical';
import type { SemanticTier } from '../memory/semantic-tier';
import type { Summary, SummaryStore } from '../memory/summaries';
import type { TwoLevelCache } from '../memory/two-level-cache';
import type { SearchHit } from '../memory/types';
import { ConversationMissingError, type ConversationStore, type StoredMessage } from '../storage/conversations';
import type { Queryable } from '../storage/db';
import type { ContextManifest, ContextTier, ManifestBlock, ManifestStore } from '../storage/manifests';
import { estimateTokens } from '../model/tokens';
import { memorySections, messageLine, renderRecall } from './render';

export interface AssemblerSettings {
  defaultSystemPrompt: string;
  /** The newest N messages always go verbatim. */
  recentMessages: number;
  budgetTokens: number;
  /** Recalled items wanted even past `recallShare` (while the budget allows). */
  recallTopK: number;
  recallShare: number;
  olderShare: number;
  /** Candidates asked of each retriever. */
  recallCandidates: number;
  /** A tier slower than this is left out of the turn. */
  tierTimeoutMs: number;
}

export interface AssemblerDeps {
  conversations: ConversationStore;
  manifests: ManifestStore;
  summaries: SummaryStore;
  facts: FactStore;
  /** The latest summary per conversation (`{ none: true }` when there is none yet). */
  summaryCache: TwoLevelCache<Summary | { none: true }>;
  hot: HotTier;
  semantic: SemanticTier | undefined;
  /** Lexical recall (BM25 over message text in SQL); undefined when that text is encrypted at rest. */
  db: Queryable | undefined;
  /** Tokens of a text as the budget counts them. */
  tokens: (text: string) => number;
  metrics?: Metrics;
  settings: AssemblerSettings;
}

export interface AssembleInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  userContent: string;
  turn: number;
  budgetTokens?: number;
  /** Overrides of the recall settings, for previews. */
  recall?: { topK?: number | undefined; share?: number | undefined };
}

/** A block as it is sent: for the preview endpoint and the manifest. */
export interface RenderedBlock extends ManifestBlock {
  text: string;
}

export interface Assembled {
  manifest: ContextManifest;
  blocks: RenderedBlock[];
}

type Candidate = { key: string; message?: StoredMessage; fact?: FactView };

export class ContextAssembler {
  constructor(private readonly deps: AssemblerDeps) {}

  async assemble(input: AssembleInput): Promise<Assembled> {
    const { tenantId, conversationId } = input;
    const d = this.deps;
    const s = {
      ...d.settings,
      recallTopK: input.recall?.topK ?? d.settings.recallTopK,
      recallShare: input.recall?.share ?? d.settings.recallShare,
    };
    s.olderShare = Math.max(s.olderShare, s.recallShare);
    const budget = input.budgetTokens ?? s.budgetTokens;
    const started = performance.now();
    const timings: Record<string, [number, number]> = {};
    const degraded: string[] = [];
    const timed = <T>(tier: string, work: () => Promise<T>): Promise<T> => {
      const from = performance.now() - started;
      return work().finally(() => (timings[tier] = [Math.round(from), Math.round(performance.now() - started)]));
    };

    // Wave 1: everything that does not depend on the summary, concurrently.
    const semanticP = d.semantic
      ? this.optional('semantic', degraded, () =>
          timed('semantic', () =>
            d.semantic!.recall({ tenantId, conversationId, text: input.userContent, limit: s.recallCandidates }),
          ),
        )
      : Promise.resolve(undefined);
    const [conversation, summary, lastSeq, lexical] = await Promise.all([
      timed('conversation', () => d.conversations.get(tenantId, conversationId)),
      timed('summary', () => this.latestSummary(tenantId, conversationId)),
      timed('lastSeq', () => d.conversations.lastSeq(tenantId, conversationId)),
      timed('lexical', async () =>
        d.db
          ? searchMessages(d.db, { tenantId, conversationId, text: input.userContent, limit: s.recallCandidates })
          : [],
      ),
    ]);
    if (!conversation) throw new ConversationMissingError(tenantId, conversationId);
    const system = conversation.systemPrompt ?? s.defaultSystemPrompt;

    // Wave 2: the window since the summary (hot tier first) and the older messages before it, while semantic
    // recall may still be running. The older allowance depends only on what changes at compaction (the budget
    // shares, the summary and its facts), so the cached memory block holding them stays the same between
    // compactions.
    const from = Math.max(1, Math.min((summary?.toSeq ?? 0) + 1, lastSeq - s.recentMessages + 1));
    const snapshot = memorySections({ summary: summary?.text ?? null, facts: summary?.facts ?? [], older: [] });
    const olderAllowance = Math.max(
      0,
      (s.olderShare - s.recallShare) * budget -
        estimateTokens(snapshot.summary ?? '') -
        estimateTokens(snapshot.facts ?? ''),
    );
    const [window, olderAll, semantic] = await Promise.all([
      timed('recent', () => this.window(tenantId, conversationId, from, lastSeq, degraded)),
      timed('older', () => this.olderHistory(tenantId, conversationId, from, olderAllowance)),
      semanticP,
    ]);

    const systemPromptSha = await d.manifests.putSystemPrompt(system);
    // Copies: shedding below must not touch the cached summary.
    const facts = [...(summary?.facts ?? [])];
    let summaryText = summary?.text ?? null;
    const older: StoredMessage[] = [];
    const recent = [...window];
    const fixedBlocks = () => {
      const memory = memorySections({ summary: summaryText, facts, older });
      const list: RenderedBlock[] = [];
      const add = (tier: ContextTier, text: string | undefined, sourceIds: string[]) => {
        if (text) list.push({ tier, tokens: d.tokens(text), text, sourceIds });
      };
      add('system', system, [systemPromptSha.slice(0, 12)]);
      add('summary', memory.summary, summary ? [`v${summary.version}`] : []);
      add(
        'facts',
        memory.facts,
        facts.map((f) => f.factId),
      );
      add(
        'older',
        memory.older,
        older.map((m) => String(m.seq)),
      );
      add(
        'recent',
        recent.map((m) => m.content).join('\n') || undefined,
        recent.map((m) => String(m.seq)),
      );
      add('current', input.userContent, [input.messageId]);
      return list;
    };
    const total = (list: RenderedBlock[]) => list.reduce((t, b) => t + b.tokens, 0);

    // 1. always — if these alone pass the budget, shed the oldest of the window (never the newest two), then
    //    the facts, then the summary.
    let blocks = fixedBlocks();
    const shed = [
      () => recent.length > 2 && (recent.shift(), true),
      () => facts.length > 0 && (facts.splice(0), true),
      () => summaryText !== null && ((summaryText = null), true),
    ];
    for (const step of shed) {
      while (total(blocks) > budget && step()) blocks = fixedBlocks();
    }
    // 2. recall — the top k, fused and de-duplicated against the window, that fit the budget.
    // Recall never repeats what the memory block already holds: the older messages are chosen without looking at
    // the query, so that block stays the same turn after turn.
    const inContext = new Set([...recent, ...olderAll].map((m) => m.seq));
    const candidates = await this.candidates(
      tenantId,
      conversationId,
      lexical,
      semantic ?? [],
      (seq) => inContext.has(seq) || seq > lastSeq,
    );
    const recalledMessages: StoredMessage[] = [];
    const recalledFacts: FactView[] = [];
    const render = () => renderRecall({ recalledMessages, recalledFacts });
    const recallTokens = () => {
      const rendered = render().turnData;
      return rendered ? d.tokens(rendered) : 0;
    };
    const take = (c: Candidate) => (c.message ? recalledMessages.push(c.message) : recalledFacts.push(c.fact!));
    const untake = (c: Candidate) => (c.message ? recalledMessages.pop() : recalledFacts.pop());
    // Messages since the summary beyond the newest N keep the cached prefix growing by appending. Only when the
    // top k would not fit beside them (a small budget) do the oldest of them make room: that costs cache hits.
    candidates.slice(0, s.recallTopK).forEach(take);
    const reserve = recallTokens();
    recalledMessages.length = 0;
    recalledFacts.length = 0;
    while (total(blocks) + reserve > budget && recent.length > s.recentMessages) {
      recent.shift();
      blocks = fixedBlocks();
    }
    const limit = Math.max(budget * s.recallShare, total(blocks) + reserve);
    for (const c of candidates) {
      if (recalledMessages.length + recalledFacts.length >= s.recallTopK) break;
      take(c);
      if (total(blocks) + recallTokens() > Math.min(limit, budget)) untake(c);
    }

    // 3. older messages in the memory block, the newest first, as long as everything still fits.
    older.push(...olderAll);
    blocks = fixedBlocks();
    while (older.length > 0 && total(blocks) + recallTokens() > budget) {
      older.shift();
      blocks = fixedBlocks();
    }
    const recall = render();
    if (recall.semantic) {
      // The per-turn block's frame (header, tags) is sent too: it counts with the recall.
      const frame = d.tokens(recall.turnData!) - d.tokens(recall.semantic);
      blocks.push({
        tier: 'semantic',
        tokens: d.tokens(recall.semantic) + frame,
        text: recall.semantic,
        sourceIds: [...recalledFacts.map((f) => `fact:${f.factId}`), ...recalledMessages.map((m) => String(m.seq))],
      });
    }

    const manifest: ContextManifest = {
      version: 2,
      messageId: input.messageId,
      turn: input.turn,
      systemPromptSha,
      summaryVersion: summary?.version ?? null,
      memoryParts: { summary: summaryText !== null, facts: facts.length > 0 },
      historySeqs: recent.map((m) => m.seq),
      olderSeqs: older.map((m) => m.seq),
      userContent: input.userContent,
      recall: { messageSeqs: recalledMessages.map((m) => m.seq), facts: recalledFacts },
      blocks: blocks.map(({ text: _text, ...b }) => b),
      degradedTiers: degraded,
      budgetTokens: budget,
      usedTokens: total(blocks),
      timings,
      createdAt: new Date().toISOString(),
    };
    return { manifest, blocks };
  }

  /**
   * Older messages for the cached memory block: the newest before the window that fit `allowance`, oldest first.
   * It depends only on where the window starts, so between compactions it is the same every turn.
   */
  private async olderHistory(
    tenantId: string,
    conversationId: string,
    from: number,
    allowance: number,
  ): Promise<StoredMessage[]> {
    if (from <= 1 || allowance <= 0) return [];
    const candidates = await this.deps.conversations.page(tenantId, conversationId, 200, from);
    const chosen: StoredMessage[] = [];
    let tokens = 0;
    for (const m of candidates.reverse()) {
      // The raw estimate, not the calibrated one: calibration drifts, and the selection must not between turns.
      tokens += estimateTokens(messageLine(m)) + 1;
      if (tokens > allowance) break;
      chosen.unshift(m);
    }
    return chosen;
  }

  /** The latest summary, through the two-level cache. */
  private async latestSummary(tenantId: string, conversationId: string): Promise<Summary | null> {
    const cached = await this.deps.summaryCache.getOrLoad(`${tenantId}/${conversationId}`, async () => {
      const s = await this.deps.summaries.latest(tenantId, conversationId);
      return s ?? { none: true as const };
    });
    return cached && 'version' in cached ? { ...cached, createdAt: new Date(cached.createdAt) } : null;
  }

  /** Messages `from..lastSeq`: from the hot tier when it has them all, else PostgreSQL (and refill the tier). */
  private async window(
    tenantId: string,
    conversationId: string,
    from: number,
    lastSeq: number,
    degraded: string[],
  ): Promise<StoredMessage[]> {
    const { hot, conversations, metrics } = this.deps;
    if (lastSeq < from) return [];
    try {
      const cached = await hot.range(tenantId, conversationId, from, lastSeq);
      if (cached) return cached;
    } catch {
      // Redis is down: PostgreSQL has the same messages. The context is complete, only slower — and flagged.
      degraded.push('hot');
      metrics?.tierErrors.inc({ tier: 'hot' });
    }
    const messages = await conversations.range(tenantId, conversationId, from, lastSeq);
    hot.append(tenantId, conversationId, messages).catch(() => metrics?.tierErrors.inc({ tier: 'hot' }));
    return messages;
  }

  /** Lexical and semantic hits fused by rank; message hits resolved to whole stored messages. */
  private async candidates(
    tenantId: string,
    conversationId: string,
    lexical: { seq: number }[],
    semantic: SearchHit[],
    exclude: (seq: number) => boolean,
  ): Promise<Candidate[]> {
    const keyOf = (h: { seq: number | null; kind?: string; sourceId?: string }) =>
      h.kind === 'fact' ? `fact:${h.sourceId}` : `seq:${h.seq}`;
    const fused = reciprocalRankFusion<{ seq: number | null; kind?: string; sourceId?: string; text?: string }>(
      [
        lexical.map((l) => ({ seq: l.seq })),
        semantic.map((h) => ({
          seq: h.record.seq,
          kind: h.record.kind,
          sourceId: h.record.sourceId,
          text: h.record.text,
        })),
      ],
      { key: keyOf },
    ).filter((f) => f.item.kind === 'fact' || (f.item.seq !== null && !exclude(f.item.seq)));
    const seqs = fused.flatMap((f) => (f.item.kind === 'fact' || f.item.seq === null ? [] : [f.item.seq]));
    const messages = new Map(
      (await this.deps.conversations.bySeq(tenantId, conversationId, seqs)).map((m) => [m.seq, m]),
    );
    const facts = new Map((await this.deps.facts.active(tenantId, conversationId)).map((f) => [f.factId, f]));
    return fused.flatMap((f): Candidate[] => {
      if (f.item.kind === 'fact') {
        const fact = facts.get(f.item.sourceId ?? '');
        return fact ? [{ key: f.key, fact }] : [];
      }
      const message = messages.get(f.item.seq!);
      return message ? [{ key: f.key, message }] : [];
    });
  }

  /** Runs an optional tier: a failure or a timeout leaves it out of this turn and flags it. */
  private async optional<T>(tier: string, degraded: string[], work: () => Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${tier} tier timed out`)), this.deps.settings.tierTimeoutMs);
        }),
      ]);
    } catch {
      degraded.push(tier);
      this.deps.metrics?.tierErrors.inc({ tier });
      this.deps.metrics?.degradedContext.inc({ tier });
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
