/**
 * Assembles what the model sees for a turn under a token budget, by a fill order rather than by shares (the
 * README's "How the context is filled" has a worked example):
 *
 *   1. always — the system prompt, the newest N messages, the new message;
 *   2. the archive, bounded by `archiveShare` of the budget — the rolling summary, the facts known when it was
 *      written, then older messages before the window (newest first), chosen without looking at the query so the
 *      cached block holding them stays the same between compactions;
 *   3. a recall reserve — what the top k recalled items need; a preview filling a budget (`recallMode: 'fill'`)
 *      reserves `recallShare` of the budget if that is more;
 *   4. the window since the last compaction (beyond the newest N), newest first, in what the reserve leaves;
 *   5. recall, after the last cache breakpoint — lexical BM25 and semantic hits fused by rank, expanded with
 *      neighbouring turns, diversified, de-duplicated against everything above. On a turn (`recallMode: 'turn'`)
 *      recall is gated (`recall-gate.ts`): a message with nothing worth recalling gets none, one that has gets its
 *      top k candidates, so a turn costs the cached prefix plus what is really relevant. A preview that asks what
 *      a budget can hold (`recallMode: 'fill'`, the endpoint with an explicit budget) fills whatever is left, in
 *      ranked order, skipping an item that does not fit for a smaller one that does; `recallTopK` is a floor there.
 *
 * The same code serves the preview endpoint and real turns. Tiers load concurrently; a tier that fails or is slow
 * is left out and flagged; only PostgreSQL is required (its failure fails the activity, which Temporal retries).
 */
import type { Metrics } from '../metrics';
import type { FactStore, FactView } from '../memory/facts';
import { normalisedScoreFusion, reciprocalRankFusion, semanticFusionWeight } from '../memory/fusion';
import { contiguousRange, type HotTier } from '../memory/hot-tier';
import { searchMessages } from '../memory/lexical';
import type { SemanticTier } from '../memory/semantic-tier';
import type { CachedArchive, Summary, SummaryStore } from '../memory/summaries';
import type { TwoLevelCache } from '../memory/two-level-cache';
import type { SearchHit } from '../memory/types';
import {
  ConversationMissingError,
  type ConversationRow,
  type ConversationStore,
  type StoredMessage,
} from '../storage/conversations';
import type { Queryable } from '../storage/db';
import type { ContextManifest, ContextTier, ManifestBlock, ManifestSources, ManifestStore } from '../storage/manifests';
import { dataSection, wrapTurnData } from '../model/prompt';
import { estimateTokens } from '../model/tokens';
import { ConversationCache } from './conversation-cache';
import { recallGate, turnTopK } from './recall-gate';
import {
  DEFAULT_RANKING,
  diversify,
  expandNeighbours,
  namedDates,
  namedRole,
  onNamedDate,
  smoothBySession,
  type NamedDate,
  type RankingWeights,
  type ScoredSeq,
} from './recall-ranking';
import { memorySections, messageDay, messageLine, renderRecall, speaker } from './render';

export interface AssemblerSettings {
  defaultSystemPrompt: string;
  /** The newest N messages always go verbatim. */
  recentMessages: number;
  budgetTokens: number;
  /** Recalled items always made room for (a floor: recall takes more whenever the budget has room). */
  recallTopK: number;
  /** Share of the budget reserved for recall before the window since the last compaction is filled. */
  recallShare: number;
  /** Cap of the archive (summary, facts, older messages) as a share of the budget. */
  archiveShare: number;
  /** Candidates asked of each retriever. */
  recallCandidates: number;
  /** A tier slower than this is left out of the turn. */
  tierTimeoutMs: number;
  /** The recall gate's threshold on a turn (best BM25 score outside the context); 0 keeps it open. */
  recallGate: number;
  /** How hits are weighed (unset: `DEFAULT_RANKING`; the recall tuning harness tries others). */
  ranking?: Partial<RankingWeights>;
}

export interface AssemblerDeps {
  conversations: ConversationStore;
  manifests: ManifestStore;
  summaries: SummaryStore;
  facts: FactStore;
  /** The summary archive per conversation (`{ none: true }` when there is none yet). */
  summaryCache: TwoLevelCache<CachedArchive>;
  hot: HotTier;
  semantic: SemanticTier | undefined;
  /** Lexical recall (BM25 over message text in SQL); undefined when that text is encrypted at rest. */
  db: Queryable | undefined;
  /** Tokens of a text as the budget counts them. */
  tokens: (text: string) => number;
  metrics?: Metrics;
  settings: AssemblerSettings;
  /** What stays the same between a conversation's turns (unset: a cache of this assembler's own). */
  cache?: ConversationCache;
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
  /** `turn` (default): gated, top k. `fill`: ungated, recall fills the budget (previews with an explicit budget). */
  recallMode?: 'turn' | 'fill';
  /** The conversation's row as the caller reads it (a turn's loadContext), perhaps still on its way: not read again. */
  conversation?: ConversationRow | Promise<ConversationRow | null>;
}

/** A block as it is sent: for the preview endpoint and the manifest. */
export interface RenderedBlock extends ManifestBlock {
  text: string;
}

export interface Assembled {
  manifest: ContextManifest;
  blocks: RenderedBlock[];
  /** The texts the manifest names, as read here: the model call of the turn builds its request from them. */
  sources: ManifestSources;
}

type Candidate = { key: string; message?: StoredMessage; fact?: FactView };

/**
 * How much of the archive fits its cap: the summary (all versions, or none: dropping a segment would change the
 * cached prefix), then the facts known when the newest was written. It depends only on the archive and the cap.
 */
function archiveFit(archive: Summary[], archiveCap: number) {
  const summary = archive.at(-1);
  const snapshot = memorySections({ summaries: archive.map((s) => s.text), facts: summary?.facts ?? [], older: [] });
  const summaryTokens = estimateTokens(snapshot.summaries.join('\n'));
  const summaryFits = summaryTokens <= archiveCap;
  const factsFit = summaryFits && summaryTokens + estimateTokens(snapshot.facts ?? '') <= archiveCap;
  return { snapshot, summaryTokens, summaryFits, factsFit, summarisedTo: summary?.toSeq ?? 0 };
}

/** Most a recalled message adds beside its own line: a date header or `…`, and newlines. */
const ITEM_OVERHEAD = 6;
/** Most a recalled fact adds beside its text: `- [preference 2023-05-08] ` and a newline. */
const FACT_OVERHEAD = 8;

export class ContextAssembler {
  private readonly cache: ConversationCache;

  constructor(private readonly deps: AssemblerDeps) {
    this.cache = deps.cache ?? new ConversationCache();
  }

  async assemble(input: AssembleInput): Promise<Assembled> {
    const { tenantId, conversationId } = input;
    const d = this.deps;
    const s = {
      ...d.settings,
      recallTopK: input.recall?.topK ?? d.settings.recallTopK,
      recallShare: input.recall?.share ?? d.settings.recallShare,
    };
    const budget = input.budgetTokens ?? s.budgetTokens;
    const started = performance.now();
    const timings: Record<string, [number, number]> = {};
    const degraded: string[] = [];
    const timed = <T>(tier: string, work: () => Promise<T>): Promise<T> => {
      const from = performance.now() - started;
      return work().finally(() => (timings[tier] = [Math.round(from), Math.round(performance.now() - started)]));
    };

    // Wave 1: everything that does not depend on the summary, concurrently.
    const mode = input.recallMode ?? 'turn';
    // Semantic recall (embedding the message, the vector search) starts once: at once for a fill; on a turn as soon
    // as the lexical hits leave the gate a chance to open. Leaving hits out only lowers the gate's signal, so when
    // the best of all hits is below the threshold the gate stays closed, and a quiet turn neither embeds its
    // message nor waits for the vector store.
    let semanticP: Promise<SearchHit[] | undefined> | undefined;
    const semanticRecall = () =>
      (semanticP ??= d.semantic
        ? this.optional('semantic', degraded, () =>
            timed('semantic', () =>
              d.semantic!.recall({ tenantId, conversationId, text: input.userContent, limit: s.recallCandidates }),
            ),
          )
        : Promise.resolve(undefined));
    if (mode === 'fill') void semanticRecall();
    const searchLexical = () =>
      timed('lexical', async () =>
        d.db
          ? searchMessages(d.db, { tenantId, conversationId, text: input.userContent, limit: s.recallCandidates })
          : [],
      );
    // While every stored message of a conversation is in its context (no summary yet, a window that fits), the
    // lexical hits cannot change a turn: each is in the window, so the gate stays closed and nothing is recalled.
    // When this worker saw that at the conversation's last turn, the search waits until the window shows whether it
    // still holds, rather than running on every young conversation's turn (the assembly's slowest read). Only when
    // the search runs changes, never what it decides: see `lexicalCannotMatter` below.
    const gating = mode === 'turn' && s.recallGate > 0 && d.db !== undefined;
    const deferLexical = gating && this.cache.wholeInContext(tenantId, conversationId);
    let lexicalP = deferLexical ? undefined : searchLexical();
    const lexicalHits = () => (lexicalP ??= searchLexical());
    // Wave 2 needs the conversation and the archive, not the lexical hits (only recall does, after it): the search
    // runs on beside it rather than holding it up (it was wave 1's slowest read).
    const archiveCap = s.archiveShare * budget;
    const archiveP = timed('summary', () => this.latestArchive(tenantId, conversationId));
    // The search starts early only when the gate below may open: the same rule on the same message, less what a
    // quiet turn surely has in front of it — the whole window since the fold, whose start the archive gives when its
    // summary fits (the archive comes from the worker's cache). Hits in that window opened it on most turns of a
    // young conversation, and the vector search it started was thrown away (Weaviate's CPU alone was 16 of the
    // machine's 77 ms per turn in the scale benchmark). Only when the search starts changes: the gate below decides, and starts it if this did not.
    lexicalP
      ?.then(async (hits) => {
        const fit = archiveFit(await archiveP, archiveCap);
        const windowFrom = fit.summaryFits ? fit.summarisedTo + 1 : Infinity;
        const inWindow = (seq: number) => seq >= windowFrom;
        if (recallGate(d.db ? hits : undefined, inWindow, s.recallGate, input.userContent).open) void semanticRecall();
      })
      .catch(() => undefined); // a lexical or archive failure fails the assembly below
    // Where the window starts is known from the archive alone when its summary fits (the usual case, and the
    // archive comes from the worker's cache): the hot tier is read from there at once, beside the conversation row,
    // and cut to the row's newest message when it comes — not a round trip after it.
    const heldP = archiveP.then((archive) => {
      const fit = archiveFit(archive, archiveCap);
      return fit.summaryFits && d.hot.kind !== 'none'
        ? {
            from: fit.summarisedTo + 1,
            held: timed('hot', () => d.hot.since(tenantId, conversationId, fit.summarisedTo + 1)),
          }
        : undefined;
    });
    heldP.then((h) => h?.held.catch(() => undefined)).catch(() => undefined); // awaited below, or not needed
    const [conversation, archive] = await Promise.all([
      input.conversation ?? timed('conversation', () => d.conversations.get(tenantId, conversationId)),
      archiveP,
    ]);
    if (!conversation) throw new ConversationMissingError(tenantId, conversationId);
    const lastSeq = conversation.lastSeq;
    // The newest version: where the window starts, and the facts known when it was written.
    const summary = archive.at(-1);
    const system = conversation.systemPrompt ?? s.defaultSystemPrompt;
    const identity = { tenantId, conversationId, createdAt: conversation.createdAt, lastSeq };
    // Stored while the messages load (nothing below waits for it until the manifest names it), unless this process
    // stored it already for this conversation: the row stays until the conversation is erased.
    const storedDigest = this.cache.storedPrompt(identity, conversation.userId, system);
    const systemPromptShaP =
      storedDigest !== undefined
        ? Promise.resolve(storedDigest)
        : timed('system', async () => {
            const digest = await d.manifests.putSystemPrompt(tenantId, conversationId, conversation.userId, system);
            this.cache.promptStored(identity, conversation.userId, system, digest);
            return digest;
          });

    // Wave 2: the window since the summary (hot tier first) and the older messages before it, while semantic
    // recall may still be running. The archive's allowance for older messages depends only on what changes at
    // compaction (the summary and its facts) and on the budget, so the cached block holding them stays the same
    // between compactions. Raw estimates, not calibrated ones: calibration drifts, the selection must not.
    const { snapshot, summaryTokens, summaryFits, factsFit, summarisedTo } = archiveFit(archive, archiveCap);
    // The window starts after the summary, and holds at least the newest N — unless the summary in context already
    // covers them: a pause folds the whole window (the idle upkeep), so a session starts from the archive, whose
    // older-messages block keeps the lines just before the pause as room allows.
    const from = summaryFits
      ? summarisedTo + 1
      : Math.max(1, Math.min(summarisedTo + 1, lastSeq - s.recentMessages + 1));
    const olderAllowance = Math.max(
      0,
      archiveCap - (summaryFits ? summaryTokens : 0) - (factsFit ? estimateTokens(snapshot.facts ?? '') : 0),
    );
    const held = await heldP;
    const [window, olderAll, systemPromptSha, searched] = await Promise.all([
      timed('recent', () =>
        this.window(tenantId, conversationId, from, lastSeq, degraded, held?.from === from ? held.held : undefined),
      ),
      this.cachedOlderHistory(identity, from, olderAllowance, timed),
      systemPromptShaP,
      lexicalP,
    ]);
    // Every stored message is in the window (from the first, none missing): any lexical hit is one of them (or newer
    // than the row, which the gate excludes too), so the gate below scores 0 with or without the hits. Should the
    // budget leave part of the window out, the search runs after all before the gate is asked again (step 4).
    const lexicalCannotMatter =
      gating && from === 1 && window.length === lastSeq && window.every((m, i) => m.seq === i + 1);
    let lexical = searched ?? (lexicalCannotMatter ? [] : await lexicalHits());
    // Copies: shedding below must not touch the cached summary.
    const facts = factsFit ? [...(summary?.facts ?? [])] : [];
    // The archive goes whole or not at all: dropping a segment would change the cached prefix before it.
    let summaryTexts = summaryFits && archive.length > 0 ? archive.map((s) => s.text) : null;
    const older = [...olderAll];
    // The window since the summary: its newest N always go; the rest joins in step 4.
    const newest = window.slice(-Math.max(s.recentMessages, 1));
    const sinceFold = window.slice(0, window.length - newest.length);
    const recent = [...newest];
    const fixedBlocks = () => {
      const memory = memorySections({ summaries: summaryTexts ?? [], facts, older });
      const list: RenderedBlock[] = [];
      const add = (tier: ContextTier, text: string | undefined, sourceIds: string[]) => {
        if (text) list.push({ tier, tokens: d.tokens(text), text, sourceIds });
      };
      add('system', system, [systemPromptSha.slice(0, 12)]);
      add(
        'summary',
        memory.summaries.join('\n') || undefined,
        archive.map((s) => `v${s.version}`),
      );
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

    // 1. always, and 2. the archive — if these pass the budget, shed the oldest of the newest N (never the newest
    //    two), then the older messages, the facts, the summary.
    let blocks = fixedBlocks();
    const shed = [
      () => recent.length > 2 && (recent.shift(), true),
      () => older.length > 0 && (older.shift(), true),
      () => facts.length > 0 && (facts.splice(0), true),
      () => summaryTexts !== null && ((summaryTexts = null), true),
    ];
    for (const step of shed) {
      while (total(blocks) > budget && step()) blocks = fixedBlocks();
    }

    // Recall candidates, de-duplicated against what is surely in context: the newest N and the archive. The rest of
    // the window since the fold is de-duplicated once step 4 has taken what fits of it — what it has no room for
    // stays recallable.
    const inContext = new Set([...newest, ...olderAll].map((m) => m.seq));
    const archivedFacts = new Set(facts.map((f) => f.factId));
    const excluded = (seq: number) => inContext.has(seq) || seq > lastSeq;
    // The gate judges against everything a quiet turn has in front of it: with the gate closed nothing is reserved
    // for recall, so the whole window since the fold joins the newest N and the archive (re-checked after step 4
    // should the budget leave part of the window out). A hit already in context is not worth recalling.
    const windowSeqs = new Set(window.map((m) => m.seq));
    const gateOn = (shown: (seq: number) => boolean) =>
      recallGate(d.db ? lexical : undefined, shown, s.recallGate, input.userContent);
    let gate = gateOn((seq) => excluded(seq) || windowSeqs.has(seq));
    let gated = mode === 'turn' && !gate.open;
    const participants = conversation.participants;
    const findCandidates = async () =>
      (
        await timed('candidates', async () =>
          this.candidates(tenantId, conversationId, lexical, (await semanticRecall()) ?? [], {
            exclude: excluded,
            speaker: namedRole(input.userContent, participants),
            dates: namedDates(input.userContent),
            weights: { ...DEFAULT_RANKING, ...s.ranking },
          }),
        )
      ).filter((c) => !c.fact || !archivedFacts.has(c.fact.factId));
    let candidates = gated ? [] : await findCandidates();
    const recalledMessages: StoredMessage[] = [];
    const recalledFacts: FactView[] = [];
    const render = () => renderRecall({ recalledMessages, recalledFacts, participants });
    const recallTokens = () => {
      const rendered = render().turnData;
      return rendered ? d.tokens(rendered) : 0;
    };
    const take = (c: Candidate) => (c.message ? recalledMessages.push(c.message) : recalledFacts.push(c.fact!));
    const untake = (c: Candidate) => (c.message ? recalledMessages.pop() : recalledFacts.pop());

    // 3. the recall reserve: what the top k need; a preview filling its budget reserves its share of the budget if
    // that is more. A turn recalls its top k only, so a larger reserve would only push the window's oldest lines out
    // of the cached prefix, turn after turn.
    // A statement that passed the gate's higher threshold is only weakly asking for an old turn: it gets fewer of
    // them. With the gate off (threshold 0, or no lexical signal) every turn gets its top k.
    const topK = gating ? turnTopK(s.recallTopK, input.userContent) : s.recallTopK;
    candidates.slice(0, topK).forEach(take);
    const topKTokens = recallTokens();
    recalledMessages.length = 0;
    recalledFacts.length = 0;
    const wanted = mode === 'turn' ? topKTokens : Math.max(s.recallShare * budget, topKTokens);
    const reserve = gated ? 0 : Math.min(wanted, Math.max(0, budget - total(blocks)));

    // 4. the window since the last compaction, newest first, contiguous, in what the reserve leaves.
    for (let i = sinceFold.length - 1; i >= 0; i--) {
      recent.unshift(sinceFold[i]!);
      const next = fixedBlocks();
      if (total(next) + reserve > budget) {
        recent.shift();
        break;
      }
      blocks = next;
    }
    blocks = fixedBlocks();
    const inWindow = new Set(recent.map((m) => m.seq));
    const wholeWindow = recent.length === window.length;
    this.cache.noteWholeInContext(tenantId, conversationId, lexicalCannotMatter && wholeWindow);
    if (gated && !wholeWindow) {
      // The budget left part of the window out: what it left out may be worth recalling after all.
      if (!searched) lexical = await lexicalHits();
      gate = gateOn((seq) => excluded(seq) || inWindow.has(seq));
      gated = !gate.open;
      if (!gated) candidates = await findCandidates();
    }
    candidates = candidates.filter((c) => !c.message || !inWindow.has(c.message.seq));
    // A turn recalls its top k only; a fill preview offers every candidate to the budget.
    const offered = mode === 'turn' ? candidates.slice(0, topK) : candidates;

    // 5. recall fills whatever is left, in ranked order; an item that does not fit makes way for later ones.
    //    Rendering the whole block per candidate would cost O(n²) on a large budget: a first pass adds up an upper
    //    bound of each item's share (its line, a possible date header, the newline), a second pass spends what the
    //    exact rendering leaves, and a last check sheds from the end should the sum ever undercount.
    const room = budget - total(blocks);
    const frame = d.tokens(wrapTurnData([dataSection('recalled_memories', '')])!);
    const upperBound = (c: Candidate) =>
      c.message
        ? d.tokens(`${speaker(c.message.role, participants)}: ${c.message.content}`) + ITEM_OVERHEAD
        : d.tokens(c.fact!.text) + FACT_OVERHEAD;
    const taken = new Set<string>();
    let estimate = frame;
    for (const c of offered) {
      const cost = upperBound(c);
      if (estimate + cost > room) continue;
      take(c);
      taken.add(c.key);
      estimate += cost;
    }
    let slack = room - recallTokens();
    for (const c of offered) {
      if (slack < ITEM_OVERHEAD) break;
      if (taken.has(c.key) || upperBound(c) > slack + ITEM_OVERHEAD) continue;
      take(c);
      const exact = room - recallTokens();
      if (exact < 0) untake(c);
      else slack = exact;
    }
    while (recalledMessages.length + recalledFacts.length > 0 && recallTokens() > room) {
      if (recalledMessages.length > 0) recalledMessages.pop();
      else recalledFacts.pop();
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
      memoryParts: { summary: summaryTexts !== null, facts: facts.length > 0 },
      historySeqs: recent.map((m) => m.seq),
      olderSeqs: older.map((m) => m.seq),
      userContent: input.userContent,
      recall: { messageSeqs: recalledMessages.map((m) => m.seq), facts: recalledFacts },
      recallGate: { ...gate, mode },
      ...(participants.user || participants.assistant ? { participants } : {}),
      blocks: blocks.map(({ text: _text, ...b }) => b),
      // A copy: a semantic search left running by a closed gate may still fail after this, and was not used.
      degradedTiers: [...degraded],
      budgetTokens: budget,
      usedTokens: total(blocks),
      timings: { ...timings, assembled: [0, Math.round(performance.now() - started)] },
      createdAt: new Date().toISOString(),
    };
    const sources: ManifestSources = {
      system,
      archive,
      history: recent,
      recalled: recalledMessages,
      older,
    };
    return { manifest, blocks, sources };
  }

  /** `olderHistory` through the conversation cache: between compactions it is the same every turn. */
  private async cachedOlderHistory(
    identity: { tenantId: string; conversationId: string; createdAt: Date },
    from: number,
    allowance: number,
    timed: <T>(tier: string, work: () => Promise<T>) => Promise<T>,
  ): Promise<StoredMessage[]> {
    const cached = this.cache.olderMessages(identity, from, allowance);
    if (cached) return cached;
    const chosen = await timed('older', () =>
      this.olderHistory(identity.tenantId, identity.conversationId, from, allowance),
    );
    this.cache.keepOlderMessages(identity, from, allowance, chosen);
    return chosen;
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

  /** The current summary archive (full summary, then segments), through the two-level cache. */
  private async latestArchive(tenantId: string, conversationId: string): Promise<Summary[]> {
    const cached = await this.deps.summaryCache.getOrLoad(`${tenantId}/${conversationId}`, async () => {
      const archive = await this.deps.summaries.archive(tenantId, conversationId);
      return archive.length > 0 ? { archive } : { none: true as const };
    });
    return cached && 'archive' in cached ? cached.archive.map((s) => ({ ...s, createdAt: new Date(s.createdAt) })) : [];
  }

  /**
   * Messages `from..lastSeq`: from the hot tier when it has them all, else PostgreSQL (and refill the tier).
   * `held` is what the tier held from `from` on, when it was read before `lastSeq` was known.
   */
  private async window(
    tenantId: string,
    conversationId: string,
    from: number,
    lastSeq: number,
    degraded: string[],
    held?: Promise<StoredMessage[]>,
  ): Promise<StoredMessage[]> {
    const { hot, conversations, metrics } = this.deps;
    if (lastSeq < from) return [];
    try {
      const cached = held
        ? contiguousRange(await held, from, lastSeq)
        : await hot.range(tenantId, conversationId, from, lastSeq);
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

  /**
   * Recall candidates in the order they fill the budget: lexical and semantic hits fused by rank (the semantic
   * list weighted by what its embedder is worth); a fact hit brings its source turns; message hits expanded with
   * their neighbouring turns, smoothed by session, lifted when they are the named participant's; then
   * diversified. Message hits resolve to whole stored messages.
   */
  private async candidates(
    tenantId: string,
    conversationId: string,
    lexical: { seq: number; score: number }[],
    semantic: SearchHit[],
    opts: {
      exclude: (seq: number) => boolean;
      speaker: 'user' | 'assistant' | undefined;
      dates: NamedDate[];
      weights: RankingWeights;
    },
  ): Promise<Candidate[]> {
    const { conversations } = this.deps;
    const w = opts.weights;
    type Hit = { seq: number | null; kind?: string; sourceId?: string };
    const keyOf = (h: Hit) => (h.kind === 'fact' ? `fact:${h.sourceId}` : `seq:${h.seq}`);
    const semanticWeight = semanticFusionWeight(this.deps.semantic?.embedder.id);
    type ScoredHit = Hit & { score: number };
    const lexicalHits: ScoredHit[] = lexical.map((l) => ({ seq: l.seq, score: l.score }));
    const semanticHits: ScoredHit[] = semantic.map((h) => ({
      seq: h.record.seq,
      kind: h.record.kind,
      sourceId: h.record.sourceId,
      score: h.score,
    }));
    const fused =
      w.fusion === 'score'
        ? normalisedScoreFusion<ScoredHit>(
            [
              { items: lexicalHits, score: (h) => h.score },
              { items: semanticHits, score: (h) => h.score, weight: semanticWeight },
            ],
            { key: keyOf },
          )
        : reciprocalRankFusion<ScoredHit>([{ items: lexicalHits }, { items: semanticHits, weight: semanticWeight }], {
            key: keyOf,
          });
    const factHits = fused.filter((f) => f.item.kind === 'fact');
    const active = factHits.length > 0 ? await this.deps.facts.active(tenantId, conversationId) : [];
    const factsById = new Map(active.map((f) => [f.factId, f]));
    const hitFacts = factHits.flatMap((f) => {
      const fact = factsById.get(f.item.sourceId ?? '');
      return fact ? [{ key: f.key, fact, score: f.score }] : [];
    });
    // Provenance: the turns a fact was drawn from join the message hits, so its date and wording come along.
    const sources = await conversations.byMessageIds(tenantId, conversationId, [
      ...new Set(hitFacts.flatMap((f) => f.fact.sourceMessageIds)),
    ]);
    const seqOf = new Map(sources.map((m) => [m.messageId, m.seq]));
    const best = new Map<number, number>();
    const offer = (seq: number, score: number) => best.set(seq, Math.max(best.get(seq) ?? 0, score));
    for (const f of fused) if (f.item.kind !== 'fact' && f.item.seq !== null) offer(f.item.seq, f.score);
    for (const f of hitFacts) {
      for (const id of f.fact.sourceMessageIds) {
        const seq = seqOf.get(id);
        if (seq !== undefined) offer(seq, f.score * w.factSourceWeight);
      }
    }
    const messageHits: ScoredSeq[] = [...best].map(([seq, score]) => ({ seq, score }));
    const expanded = expandNeighbours(messageHits, {
      radius: w.neighbourRadius,
      neighbourWeight: w.neighbourWeight,
      exclude: opts.exclude,
    });
    const stored = await conversations.bySeq(
      tenantId,
      conversationId,
      expanded.map((e) => e.seq),
    );
    const messages = new Map(stored.map((m) => [m.seq, m]));
    const present = expanded.flatMap((e) => {
      const message = messages.get(e.seq);
      return message ? [{ ...e, message }] : [];
    });
    const smoothed = smoothBySession(present, (e) => messageDay(e.message), w.sessionWeight);
    const lift = (role: StoredMessage['role']) => (opts.speaker === role ? 1 + w.speakerWeight : 1);
    const dated = (m: StoredMessage) =>
      opts.dates.length > 0 && onNamedDate(messageDay(m), opts.dates) ? 1 + w.dateWeight : 1;
    const scored: (Candidate & { score: number; text: string })[] = [
      ...smoothed.map((e) => ({
        key: `seq:${e.seq}`,
        message: e.message,
        score: e.score * lift(e.message.role) * dated(e.message),
        text: e.message.content,
      })),
      ...hitFacts.map((f) => ({ key: f.key, fact: f.fact, score: f.score, text: f.fact.text })),
    ].sort((a, b) => b.score - a.score);
    return diversify(
      scored,
      (c) => c.score,
      (c) => c.text,
      w.diversityLambda,
    );
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
