/**
 * Rebuilds a turn's model request from its context manifest: what generateReply sends, and what
 * `memoir rerun` sends again with another model or system prompt.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { renderMemoryBlock, renderRecall } from '../context/render';
import type { SummaryStore } from '../memory/summaries';
import type { ConversationStore } from '../storage/conversations';
import type { ContextManifest, ManifestStore } from '../storage/manifests';
import { cacheMinimum } from './cache-minimums';
import { buildRequest } from './prompt';

export interface RequestSettings {
  maxTokens: number;
  cacheMinimums: Record<string, number>;
  systemCacheTtl: '5m' | '1h';
}

export interface RequestOverrides {
  /** Replaces the system prompt the turn was given. */
  system?: string | undefined;
  /** The user's message for the model, when the caller has it (the manifest holds its stored form). */
  userText?: string | undefined;
}

export interface RequestStores {
  conversations: ConversationStore;
  manifests: ManifestStore;
  summaries: SummaryStore;
}

export async function requestFromManifest(
  stores: RequestStores,
  tenantId: string,
  conversationId: string,
  manifest: ContextManifest,
  model: string,
  settings: RequestSettings,
  overrides: RequestOverrides = {},
): Promise<Anthropic.MessageCreateParamsNonStreaming> {
  const [system, summary, history, recalled, older] = await Promise.all([
    overrides.system ?? stores.manifests.systemPrompt(manifest.systemPromptSha),
    manifest.summaryVersion === null
      ? null
      : stores.summaries.version(tenantId, conversationId, manifest.summaryVersion),
    stores.conversations.bySeq(tenantId, conversationId, manifest.historySeqs),
    stores.conversations.bySeq(tenantId, conversationId, manifest.recall.messageSeqs),
    stores.conversations.bySeq(tenantId, conversationId, manifest.olderSeqs),
  ]);
  const memory = renderMemoryBlock({
    summary: summary && manifest.memoryParts.summary ? summary.text : null,
    facts: summary && manifest.memoryParts.facts ? summary.facts : [],
    older,
  });
  const { turnData } = renderRecall({
    recalledMessages: recalled,
    recalledFacts: manifest.recall.facts,
    participants: manifest.participants,
  });
  return buildRequest(
    {
      model,
      maxTokens: settings.maxTokens,
      system: system ?? '',
      memory,
      history: history.map((m) => ({ role: m.role, text: m.content })),
      userText: overrides.userText ?? manifest.userContent,
      turnData,
    },
    { minimumTokens: cacheMinimum(settings.cacheMinimums, model), systemTtl: settings.systemCacheTtl },
  );
}
