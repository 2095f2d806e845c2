/**
 * The worker-kill scenario's load plan: every requested kill must land while turns are in flight, for any kill
 * count (a 40-kill run once ended with 38 kills: the clients ran out of turns before the last ones).
 */
import fc from 'fast-check';
import { clientsHeld, laneMayStop, planKillLoad } from './kill-plan';

const kills = fc.integer({ min: 1, max: 500 });
const conversations = fc.integer({ min: 1, max: 20 });

it.each([
  [40, 10],
  [100, 10],
  [500, 10],
])('%i kills among %i conversations: the last kill still meets turns to send', (k, c) => {
  const plan = planKillLoad(k, c);
  expect(plan.holdAt.at(-1)! + 2 * c).toBeLessThanOrEqual(c * plan.maxTurns);
  expect(laneMayStop(plan, plan.minTurns, k - 1)).toBe(false);
});

it('kills are due one after another, each after at least one answered turn', () => {
  fc.assert(
    fc.property(kills, conversations, (k, c) => {
      const plan = planKillLoad(k, c);
      expect(plan.killAt).toHaveLength(k);
      expect(plan.killAt[0]).toBeGreaterThanOrEqual(1);
      for (let i = 1; i < k; i++) expect(plan.killAt[i]!).toBeGreaterThan(plan.killAt[i - 1]!);
    }),
  );
});

it('the clients never run out of turns while a kill is outstanding', () => {
  fc.assert(
    fc.property(kills, conversations, (k, c) => {
      const plan = planKillLoad(k, c);
      // While kill i is due, the clients are held once holdAt[i] turns are answered; the lanes already mid-turn
      // finish theirs (up to one more per lane). There must still be turns left to send after that, so the kill
      // meets turns in flight however late it comes.
      for (let i = 0; i < k; i++) {
        expect(plan.holdAt[i]!).toBeGreaterThanOrEqual(plan.killAt[i]!);
        expect(plan.holdAt[i]! + 2 * c).toBeLessThanOrEqual(c * plan.maxTurns);
      }
    }),
  );
});

it('a lane stops only when every kill happened and it sent its share, or at the hard bound', () => {
  fc.assert(
    fc.property(kills, conversations, fc.nat(), fc.nat(), (k, c, sentSeed, doneSeed) => {
      const plan = planKillLoad(k, c);
      const sent = sentSeed % (plan.maxTurns + 2);
      const done = doneSeed % (k + 1);
      const expected = sent >= plan.maxTurns || (done === k && sent >= plan.minTurns);
      expect(laneMayStop(plan, sent, done)).toBe(expected);
    }),
  );
});

it('the hard bound still leaves room beyond the planned share', () => {
  fc.assert(
    fc.property(kills, conversations, (k, c) => {
      const plan = planKillLoad(k, c);
      expect(plan.minTurns * c).toBeGreaterThanOrEqual(k);
      expect(plan.maxTurns).toBeGreaterThan(plan.minTurns);
    }),
  );
});

it('the clients are held only while a kill is due, and never while a kill waits for its moment', () => {
  fc.assert(
    fc.property(kills, conversations, fc.nat(), fc.nat(), fc.boolean(), (k, c, doneSeed, answered, awaitingMoment) => {
      const plan = planKillLoad(k, c);
      const killsDone = doneSeed % (k + 1);
      const held = clientsHeld(plan, { killsDone, answered, awaitingMoment });
      if (awaitingMoment || killsDone === k) expect(held).toBe(false);
      else expect(held).toBe(answered >= plan.holdAt[killsDone]!);
    }),
  );
});
