/**
 * Memoir's own memory as tools: `search_memory` runs the retrieval that assembles a turn's context, with the
 * model's query and budget, and returns dated, sourced snippets; `remember` stores a fact with its source.
 */
import { z } from 'zod';
import type { ContextAssembler } from '../context/assembler';
import type { FactStore } from '../memory/facts';
import type { ConversationStore } from '../storage/conversations';
import { defineTool, definedToolsProvider } from './define';
import type { ToolProvider } from './types';

export interface MemoryToolDeps {
  assembler: ContextAssembler;
  conversations: ConversationStore;
  facts: FactStore;
}

/** Budget of a search when the model names none, and the most it may ask for. */
const DEFAULT_SEARCH_TOKENS = 1_000;
const MAX_SEARCH_TOKENS = 4_000;

export const MEMORY_TOOL_NAMES = ['search_memory', 'remember'] as const;

/**
 * The memory tools over the stores they search and write. Without stores (`memoir rerun`, which only needs their
 * definitions) a call answers that memory is not reachable here.
 */
export function memoryToolsProvider(stores?: MemoryToolDeps): ToolProvider {
  const unavailable = { content: 'memory is not reachable from here', isError: true };
  const searchMemory = defineTool({
    name: 'search_memory',
    description:
      "Search this conversation's long-term memory (earlier messages and remembered facts) for what is relevant " +
      'to a query. Returns dated snippets with their source. Use it when the user refers to something said before ' +
      'that is not in the visible conversation.',
    input: z.object({
      query: z.string().min(1).max(2_000).describe('What to look for, in plain words'),
      budgetTokens: z.number().int().min(50).max(MAX_SEARCH_TOKENS).optional().describe('Most tokens to return'),
    }),
    timeoutMs: 15_000,
    idempotent: true,
    async run({ query, budgetTokens }, ctx) {
      if (!stores) return unavailable;
      const deps = stores;
      const { manifest } = await deps.assembler.assemble({
        tenantId: ctx.tenantId,
        conversationId: ctx.conversationId,
        messageId: `search-${ctx.toolUseId}`,
        userContent: query,
        turn: 0,
        // The budget is what recall may fill: the whole of it goes to recall, none to the window. A search the model
        // asked for is never gated and fills its budget (a turn's gate and top k are for recall nobody asked for).
        budgetTokens: budgetTokens ?? DEFAULT_SEARCH_TOKENS,
        recall: { share: 1 },
        recallMode: 'fill',
      });
      const messages = await deps.conversations.bySeq(ctx.tenantId, ctx.conversationId, manifest.recall.messageSeqs);
      const lines = [
        ...manifest.recall.facts.map(
          (f) => `[fact · ${f.kind} · source: ${f.sourceMessageIds.join(', ') || 'unknown'}] ${f.text}`,
        ),
        ...messages.map(
          (m) => `[${m.createdAt.toISOString().slice(0, 10)} · ${m.role} · message ${m.messageId}] ${m.content}`,
        ),
      ];
      return lines.length > 0 ? lines.join('\n') : `Nothing in memory matches "${query}".`;
    },
  });

  const remember = defineTool({
    name: 'remember',
    description:
      'Store a durable fact about the user or the work (a preference, a decision, a detail to keep), with where it ' +
      'came from. It will be available in later turns and to search_memory.',
    input: z.object({
      fact: z.string().min(1).max(1_000).describe('The fact, as one sentence'),
      subject: z.string().min(1).max(120).optional().describe('What it is about, short ("budget", "home city")'),
      source: z.string().min(1).max(500).optional().describe('Where it came from (a message, a document, a URL)'),
    }),
    timeoutMs: 15_000,
    // The fact's id is a hash of its subject and text: storing it again changes nothing.
    idempotent: true,
    async run({ fact, subject, source }, ctx) {
      if (!stores) return unavailable;
      const deps = stores;
      const conversation = await deps.conversations.get(ctx.tenantId, ctx.conversationId);
      if (!conversation) return { content: 'the conversation no longer exists', isError: true };
      const stored = await deps.facts.remember(
        { tenantId: ctx.tenantId, conversationId: ctx.conversationId, userId: conversation.userId },
        {
          kind: 'fact',
          subject: subject ?? fact.split(/\s+/).slice(0, 4).join(' '),
          text: fact,
          sourceMessageIds: [source ? `source:${source}` : `tool:${ctx.toolUseId}`],
        },
      );
      return `Remembered (fact ${stored.factId}, subject "${stored.subject}").`;
    },
  });

  return definedToolsProvider([searchMemory, remember]);
}
