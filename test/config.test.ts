/**
 * Configuration parsing where a mistake would be silent: API keys are `tenant:key` entries whose keys may hold `:`.
 */
import { StaticApiKeys } from '../src/api/auth';
import { ConfigError, loadConfig } from '../src/config';

describe('MEMOIR_API_KEYS', () => {
  it('splits each entry at its first colon: a key may contain colons and is kept whole', async () => {
    const key = 'abc:def:0123456789abcdef';
    const config = loadConfig({ MEMOIR_API_KEYS: `acme:${key}, globex:${'g'.repeat(24)}` });
    expect(config.api.keys).toEqual([
      { tenantId: 'acme', key },
      { tenantId: 'globex', key: 'g'.repeat(24) },
    ]);
    const keys = new StaticApiKeys(config.api.keys!);
    expect(await keys.resolve(key)).toBe('acme');
    // The part before the second colon is not a key on its own.
    expect(await keys.resolve('abc:def')).toBeUndefined();
  });

  it('refuses entries without a valid tenant id or with a short key, naming the entry', () => {
    for (const bad of ['no-colon-here-at-all-0000', ':0123456789abcdef0', 'a b:0123456789abcdef0', 'acme:short']) {
      expect(() => loadConfig({ MEMOIR_API_KEYS: `ok:${'k'.repeat(16)},${bad}` }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ MEMOIR_API_KEYS: `ok:${'k'.repeat(16)},${bad}` }), bad).toThrow(
        /MEMOIR_API_KEYS.*entry 2: each entry is tenant:key/,
      );
    }
  });
});
