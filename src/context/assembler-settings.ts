/**
 * The one place the configuration becomes the context assembler's settings. The worker and API
 * (`src/runtime/services.ts`) and the recall tuning harness (`bench/tune-recall.ts`) both call it, so a setting added
 * here reaches both: when the harness built its own copy it drifted from production and its figures stopped matching
 * the benchmark's.
 */
import type { Config } from '../config';
import type { AssemblerSettings } from './assembler';

/** Candidates asked of each retriever (lexical and semantic) before fusion. */
export const RECALL_CANDIDATES = 60;

/** The assembler's settings as the configuration sets them; `overrides` are for tools that vary one on purpose. */
export function assemblerSettings(
  config: Pick<Config, 'defaultSystemPrompt' | 'recentMessages' | 'memory'>,
  overrides: Partial<AssemblerSettings> = {},
): AssemblerSettings {
  return {
    defaultSystemPrompt: config.defaultSystemPrompt,
    recentMessages: config.recentMessages,
    budgetTokens: config.memory.budgetTokens,
    recallTopK: config.memory.recallTopK,
    recallShare: config.memory.recallShare,
    archiveShare: config.memory.archiveShare,
    recallCandidates: RECALL_CANDIDATES,
    tierTimeoutMs: config.memory.tierTimeoutMs,
    recallGate: config.memory.recallGate,
    ...overrides,
  };
}
