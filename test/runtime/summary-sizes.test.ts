/**
 * A full summary must fit the archive's cap: one longer than it is left out of every turn (the archive goes whole or
 * not at all), so the summary model is never asked for more than the cap.
 */
import { loadConfig } from '../../src/config';
import { summarySizes } from '../../src/runtime/worker';

const config = (env: Record<string, string>) => loadConfig({ MEMOIR_API_KEYS: `acme:${'k'.repeat(24)}`, ...env });

describe('summary sizes', () => {
  it.each([{}, { MEMOIR_ARCHIVE_SHARE: '0.01' }, { MEMOIR_CONTEXT_BUDGET: '4000' }, { MEMOIR_ARCHIVE_SHARE: '0.5' }])(
    'never asks for a full summary longer than the archive cap (%o)',
    (env) => {
      const c = config(env);
      const { summaryMaxTokens, summaryArchiveTokens } = summarySizes(c);
      expect(summaryArchiveTokens).toBe(Math.floor(c.memory.archiveShare * c.memory.budgetTokens));
      expect(summaryMaxTokens).toBeLessThanOrEqual(summaryArchiveTokens);
      expect(summaryMaxTokens).toBeLessThanOrEqual(1024);
    },
  );
});
