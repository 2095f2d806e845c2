import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { assemblerSettings } from '../../src/context/assembler-settings';

describe('assemblerSettings', () => {
  it('carries every memory setting of the configuration, so the tuning harness sees what production runs', () => {
    const config = loadConfig({
      MEMOIR_RECENT_MESSAGES: '7',
      MEMOIR_CONTEXT_BUDGET: '3000',
      MEMOIR_RECALL_TOP_K: '9',
      MEMOIR_RECALL_SHARE: '0.4',
      MEMOIR_ARCHIVE_SHARE: '0.2',
      MEMOIR_RECALL_GATE: '1.5',
      MEMOIR_TIER_TIMEOUT: '321ms',
    });
    expect(assemblerSettings(config)).toMatchObject({
      recentMessages: 7,
      budgetTokens: 3000,
      recallTopK: 9,
      recallShare: 0.4,
      archiveShare: 0.2,
      recallGate: 1.5,
      tierTimeoutMs: 321,
      defaultSystemPrompt: config.defaultSystemPrompt,
    });
  });

  it('lets a tool override one setting and keeps the rest', () => {
    const config = loadConfig({ MEMOIR_RECALL_SHARE: '0.4' });
    const settings = assemblerSettings(config, { tierTimeoutMs: 10_000, ranking: { speakerWeight: 1 } });
    expect(settings).toMatchObject({ recallShare: 0.4, tierTimeoutMs: 10_000, ranking: { speakerWeight: 1 } });
  });
});
