/**
 * Rebuilds a turn's model request from its context manifest: what generateReply sends, and what
 * `memoir rerun` sends again with another model or system prompt.
 */
import type Anthropic from '@anthropic-ai/sdk';
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
  system?: string;
}

export async function requestFromManifest(
  stores: { conversations: ConversationStore; manifests: ManifestStore },
  tenantId: string,
  conversationId: string,
  manifest: ContextManifest,
  model: string,
  settings: RequestSettings,
  overrides: RequestOverrides = {},
): Promise<Anthropic.MessageCreateParamsNonStreaming> {
  const system = overrides.system ?? (await stores.manifests.systemPrompt(manifest.systemPromptSha)) ?? '';
  const history = await stores.conversations.bySeq(tenantId, conversationId, manifest.historySeqs);
  return buildRequest(
    {
      model,
      maxTokens: settings.maxTokens,
      system,
      history: history.map((m) => ({ role: m.role, text: m.content })),
      userText: manifest.userContent,
    },
    { minimumTokens: cacheMinimum(settings.cacheMinimums, model), systemTtl: settings.systemCacheTtl },
  );
}
