/**
 * The cost suites' breakdown by token class must price calls exactly as the ledger does (`costUsd`): same tier,
 * same rounding, so the classes add up to the method's cost.
 */
import { breakdown, type UsageRow } from '../../bench/suites/cost-breakdown';
import { costUsd, DEFAULT_PRICING } from '../../src/model/pricing';

const row = (over: Partial<UsageRow>): UsageRow => ({
  model: 'claude-sonnet-5-5',
  purpose: 'reply',
  input: 0,
  output: 0,
  cacheRead: 0,
  cacheWrite5m: 0,
  cacheWrite1h: 0,
  ...over,
});
const ledgerCost = (r: UsageRow) =>
  costUsd(DEFAULT_PRICING, r.model, {
    inputTokens: r.input,
    outputTokens: r.output,
    cacheReadTokens: r.cacheRead,
    cacheWrite5mTokens: r.cacheWrite5m,
    cacheWrite1hTokens: r.cacheWrite1h,
  });

describe('cost breakdown by token class', () => {
  it('prices an upkeep call as the ledger does, long-prompt tier included', () => {
    // Haiku 5.5 bills the whole call at its long-prompt rates past 100k prompt tokens; no single class passes it.
    const upkeep = row({
      model: 'claude-haiku-5-5',
      purpose: 'summary',
      input: 60_001,
      cacheRead: 50_000,
      output: 333,
    });
    const b = breakdown([upkeep]);
    expect(b['memory upkeep'].usd).toBe(ledgerCost(upkeep));
    expect(b['memory upkeep'].usd).toBeCloseTo((60_001 * 0.5 + 50_000 * 0.05 + 333 * 2.5) / 1e6, 12);
  });

  it('splits a reply call into classes that add up to its ledger cost, at the tier of the whole prompt', () => {
    const reply = row({
      model: 'claude-haiku-5-5',
      input: 7,
      output: 1_234,
      cacheRead: 90_000,
      cacheWrite5m: 9_000,
      cacheWrite1h: 2_000,
    });
    const b = breakdown([reply]);
    expect(b['cache reads'].usd).toBe((90_000 * 0.05) / 1e6);
    expect(b['cache writes'].tokens).toBe(11_000);
    const total = b['uncached input'].usd + b['cache writes'].usd + b['cache reads'].usd + b.output.usd;
    expect(total).toBeCloseTo(ledgerCost(reply), 12);
  });

  it('refuses a model it has no price for, rather than count it as free', () => {
    expect(() => breakdown([row({ model: 'claude-unknown-9', input: 10 })])).toThrow(/no price for claude-unknown-9/);
  });
});
