/**
 * Rebuilds a turn's model request from its context manifest: what generateReply sends, and what
 * `memoir rerun` sends again with another model or system prompt.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { renderMemoryBlocks, renderRecall } from '../context/render';
import type { SummaryStore } from '../memory/summaries';
import type { ConversationStore } from '../storage/conversations';
import type { ContextManifest, ManifestSources, ManifestStore } from '../storage/manifests';
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
  /** The conversation's tool definitions (absent or empty: a text-only request, as before tools existed). */
  tools?: Anthropic.Tool[] | undefined;
  /** This turn's tool exchange so far, rebuilt from the stored steps. */
  toolSteps?: Anthropic.MessageParam[] | undefined;
  /** What the manifest names, as its assembler read it: nothing is read back (absent: read from the stores). */
  sources?: ManifestSources | undefined;
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
  const { system, archive, history, recalled, older } = {
    ...(overrides.sources ?? (await readSources(stores, tenantId, conversationId, manifest))),
    ...(overrides.system !== undefined ? { system: overrides.system } : {}),
  };
  // The archive at the manifest's version: a full summary and the segments after it (one block each).
  const latest = archive.at(-1);
  const memory = renderMemoryBlocks({
    summaries: manifest.memoryParts.summary ? archive.map((s) => s.text) : [],
    facts: latest && manifest.memoryParts.facts ? latest.facts : [],
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
      system,
      summaries: memory.segments,
      memory: memory.rest,
      history: history.map((m) => ({ role: m.role, text: m.content })),
      userText: overrides.userText ?? manifest.userContent,
      turnData,
      tools: overrides.tools,
      toolSteps: overrides.toolSteps,
    },
    { minimumTokens: cacheMinimum(settings.cacheMinimums, model), systemTtl: settings.systemCacheTtl },
  );
}

/** The texts a manifest names, read back from the stores (another process assembled it, or a rerun). */
async function readSources(
  stores: RequestStores,
  tenantId: string,
  conversationId: string,
  manifest: ContextManifest,
): Promise<ManifestSources> {
  const [system, archive, history, recalled, older] = await Promise.all([
    stores.manifests.systemPrompt(tenantId, conversationId, manifest.systemPromptSha),
    manifest.summaryVersion === null ? [] : stores.summaries.archive(tenantId, conversationId, manifest.summaryVersion),
    stores.conversations.bySeq(tenantId, conversationId, manifest.historySeqs),
    stores.conversations.bySeq(tenantId, conversationId, manifest.recall.messageSeqs),
    stores.conversations.bySeq(tenantId, conversationId, manifest.olderSeqs),
  ]);
  return { system: system ?? '', archive, history, recalled, older };
}
