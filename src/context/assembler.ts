/**
 * Assembles what the model sees for a turn and records it as a manifest. History is sent in a window whose start
 * moves in steps rather than every turn: between steps the transcript prefix is byte-for-byte stable, so the
 * prompt cache serves it.
 */
import type { ConversationStore, StoredMessage } from '../storage/conversations';
import type { ContextManifest, ManifestBlock, ManifestStore } from '../storage/manifests';
import { estimateTokens } from '../model/tokens';

export interface AssembleInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  userContent: string;
  turn: number;
}

export interface AssemblerSettings {
  defaultSystemPrompt: string;
  /** The newest N messages always go verbatim. */
  recentMessages: number;
  budgetTokens: number;
}

/** First sequence number of the history window: at least `minRecent` messages, start aligned to an even step. */
export function windowStartSeq(lastSeq: number, minRecent: number): number {
  if (minRecent <= 0) return lastSeq + 1;
  const step = minRecent + (minRecent % 2);
  return Math.floor(Math.max(0, lastSeq - minRecent) / step) * step + 1;
}

export class ContextAssembler {
  constructor(
    private readonly conversations: ConversationStore,
    private readonly manifests: ManifestStore,
    private readonly settings: AssemblerSettings,
  ) {}

  async assemble(input: AssembleInput): Promise<ContextManifest> {
    const { tenantId, conversationId } = input;
    const conversation = await this.conversations.get(tenantId, conversationId);
    const system = conversation?.systemPrompt ?? this.settings.defaultSystemPrompt;
    const systemPromptSha = await this.manifests.putSystemPrompt(system);
    const last = await this.conversations.recent(tenantId, conversationId, 1);
    const lastSeq = last[0]?.seq ?? 0;
    const history = await this.conversations.page(
      tenantId,
      conversationId,
      2 * this.settings.recentMessages + 2,
      lastSeq + 1,
    );
    const window = history.filter((m) => m.seq >= windowStartSeq(lastSeq, this.settings.recentMessages));

    const blocks: ManifestBlock[] = [
      { tier: 'system', tokens: estimateTokens(system), sourceIds: [systemPromptSha.slice(0, 12)] },
      { tier: 'recent', tokens: tokensOf(window), sourceIds: window.map((m) => String(m.seq)) },
      { tier: 'current', tokens: estimateTokens(input.userContent), sourceIds: [input.messageId] },
    ];
    return {
      version: 1,
      messageId: input.messageId,
      turn: input.turn,
      systemPromptSha,
      historySeqs: window.map((m) => m.seq),
      userContent: input.userContent,
      blocks,
      budgetTokens: this.settings.budgetTokens,
      usedTokens: blocks.reduce((t, b) => t + b.tokens, 0),
      createdAt: new Date().toISOString(),
    };
  }
}

function tokensOf(messages: StoredMessage[]): number {
  return messages.reduce((t, m) => t + estimateTokens(m.content), 0);
}
