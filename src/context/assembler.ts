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
  db: Queryable;
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
    const s = d.settings;
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
      timed('lexical', () =>
        searchMessages(d.db, { tenantId, conversationId, text: input.userContent, limit: s.recallCandidates }),
      ),
    ]);
    if (!conversation) throw new ConversationMissingError(tenantId, conversationId);
    const system = conversation.systemPrompt ?? s.defaultSystemPrompt;

    // Wave 2: the window since the summary (hot tier first), while semantic recall may still be running.
    const from = Math.max(1, Math.min((summary?.toSeq ?? 0) + 1, lastSeq - s.recentMessages + 1));
    const [window, semantic] = await Promise.all([
      timed('recent', () => this.window(tenantId, conversationId, from, lastSeq, degraded)),
      semanticP,
    ]);

    const memory = memorySections({ summary: summary?.text ?? null, facts: summary?.facts ?? [] });
    const blocks: RenderedBlock[] = [];
    const push = (tier: ContextTier, text: string | undefined, sourceIds: string[]) => {
      if (text) blocks.push({ tier, tokens: d.tokens(text), text, sourceIds });
    };
    const systemPromptSha = await d.manifests.putSystemPrompt(system);
    push('system', system, [systemPromptSha.slice(0, 12)]);
    push('summary', memory.summary, summary ? [`v${summary.version}`] : []);
    push(
      'facts',
      memory.facts,
      (summary?.facts ?? []).map((f) => f.factId),
    );
    const current: RenderedBlock = {
      tier: 'current',
      tokens: d.tokens(input.userContent),
      text: input.userContent,
      sourceIds: [input.messageId],
    };

    // 1. always — trimmed from the oldest end only if the fixed parts alone would pass the budget.
    const fixed = () => blocks.reduce((t, b) => t + b.tokens, 0) + current.tokens;
    const recent = [...window];
    const lines = recent.map((m) => d.tokens(m.content));
    let recentTokens = lines.reduce((a, b) => a + b, 0);
    while (fixed() + recentTokens > budget && recent.length > 2) {
      recentTokens -= lines.shift()!;
      recent.shift();
    }
    if (fixed() + recentTokens > budget) this.dropWhileOver(blocks, budget - current.tokens - recentTokens);
    let used = fixed() + recentTokens;

    // 2. recall, fused and de-duplicated against the window.
    const inWindow = new Set(recent.map((m) => m.seq));
    const candidates = await this.candidates(
      tenantId,
      conversationId,
      lexical,
      semantic ?? [],
      (seq) => inWindow.has(seq) || seq > lastSeq,
    );
    const recalledMessages: StoredMessage[] = [];
    const recalledFacts: FactView[] = [];
    const recallCap = budget * s.recallShare;
    let taken = 0;
    const wrapper = 40; // tags and the data header around the per-turn block
    for (const c of candidates) {
      const text = c.message ? messageLine(c.message) : `- [${c.fact!.kind}] ${c.fact!.text}`;
      const cost = d.tokens(text) + (taken === 0 ? wrapper : 1);
      const withinShare = used + cost <= recallCap;
      if (!(withinShare || (taken < s.recallTopK && used + cost <= budget))) {
        if (taken >= s.recallTopK) break;
        continue;
      }
      used += cost;
      taken++;
      if (c.message) recalledMessages.push(c.message);
      else recalledFacts.push(c.fact!);
    }

    // 3. older history, newest first, while under the older share.
    const taken$ = new Set([...recalledMessages.map((m) => m.seq), ...inWindow]);
    const olderMessages: StoredMessage[] = [];
    const olderFrom = recent[0]?.seq ?? lastSeq + 1;
    if (used < budget * s.olderShare && olderFrom > 1) {
      const older = await d.conversations.page(tenantId, conversationId, 200, olderFrom);
      let first = true;
      for (const m of older.reverse()) {
        if (taken$.has(m.seq)) continue;
        const cost = d.tokens(messageLine(m)) + (first ? wrapper : 1);
        if (used + cost > budget * s.olderShare) break;
        used += cost;
        first = false;
        olderMessages.push(m);
      }
    }

    // Estimates above are per line; the rendered block is what counts. Shed the last-added recall until it fits.
    const render = () => renderRecall({ recalledMessages, recalledFacts, olderMessages });
    const fixedTotal = fixed() + recentTokens;
    let recall = render();
    while (fixedTotal + (recall.turnData ? d.tokens(recall.turnData) : 0) > budget) {
      if (olderMessages.length > 0) olderMessages.pop();
      else if (recalledMessages.length > 0) recalledMessages.pop();
      else if (recalledFacts.length > 0) recalledFacts.pop();
      else break;
      recall = render();
    }
    if (recent.length > 0) {
      blocks.push({
        tier: 'recent',
        tokens: recentTokens,
        text: recent.map((m) => m.content).join('\n'),
        sourceIds: recent.map((m) => String(m.seq)),
      });
    }
    blocks.push(current);
    push('semantic', recall.semantic, [
      ...recalledFacts.map((f) => `fact:${f.factId}`),
      ...recalledMessages.map((m) => String(m.seq)),
    ]);
    push(
      'older',
      recall.older,
      olderMessages.map((m) => String(m.seq)),
    );
    // The per-turn block's frame (its header and tags) is sent too: count it with the first recall block.
    const frame = recall.turnData
      ? d.tokens(recall.turnData) -
        blocks.filter((b) => b.tier === 'semantic' || b.tier === 'older').reduce((t, b) => t + b.tokens, 0)
      : 0;
    const firstRecall = blocks.find((b) => b.tier === 'semantic' || b.tier === 'older');
    if (firstRecall) firstRecall.tokens += frame;
    const kept = new Set(blocks.map((b) => b.tier));

    const manifest: ContextManifest = {
      version: 2,
      messageId: input.messageId,
      turn: input.turn,
      systemPromptSha,
      summaryVersion: kept.has('summary') || kept.has('facts') ? (summary?.version ?? null) : null,
      memoryParts: { summary: kept.has('summary'), facts: kept.has('facts') },
      historySeqs: recent.map((m) => m.seq),
      userContent: input.userContent,
      recall: {
        messageSeqs: recalledMessages.map((m) => m.seq),
        facts: recalledFacts,
        olderSeqs: olderMessages.map((m) => m.seq),
      },
      blocks: blocks.map(({ text: _text, ...b }) => b),
      degradedTiers: degraded,
      budgetTokens: budget,
      usedTokens: blocks.reduce((t, b) => t + b.tokens, 0),
      timings,
      createdAt: new Date().toISOString(),
    };
    return { manifest, blocks };
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

  /** Last resort when the fixed parts exceed the budget: drop facts, then the summary. */
  private dropWhileOver(blocks: RenderedBlock[], room: number): void {
    for (const tier of ['facts', 'summary'] as const) {
      if (blocks.reduce((t, b) => t + b.tokens, 0) <= room) return;
      const i = blocks.findIndex((b) => b.tier === tier);
      if (i >= 0) blocks.splice(i, 1);
    }
  }
}
