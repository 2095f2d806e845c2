/**
 * The worker-process registry of model calls handed over (activities/reply-handover.ts): bounded, each call adopted
 * at most once, and every entry gone a grace period after its call settles, adopted or not.
 */
import { HandedOverCalls } from '../../activities/reply-handover';

afterEach(() => vi.useRealTimers());

it('refuses a call past its bound instead of dropping one in flight', () => {
  const calls = new HandedOverCalls<string>(2);
  const running = () => new Promise<string>(() => undefined);
  expect(calls.keep('a', running(), new AbortController())).toBe(true);
  expect(calls.keep('b', running(), new AbortController())).toBe(true);
  expect(calls.keep('c', running(), new AbortController())).toBe(false);
  expect(calls.size).toBe(2);
  expect(calls.adopt('a')).toBeDefined();
});

it('gives a call to one adopter only', () => {
  const calls = new HandedOverCalls<string>();
  calls.keep('a', new Promise<string>(() => undefined), new AbortController());
  expect(calls.adopt('a')).toBeDefined();
  expect(calls.adopt('a')).toBeUndefined();
  expect(calls.adopt('unknown')).toBeUndefined();
});

it('forgets a settled call after its grace, adopted or not, failed or not', async () => {
  vi.useFakeTimers();
  const calls = new HandedOverCalls<string>();
  calls.keep('ok', Promise.resolve('reply'), new AbortController());
  calls.keep('failed', Promise.reject(new Error('model failed')), new AbortController());
  await vi.advanceTimersByTimeAsync(0);
  // A late adopter still gets the settled call's result.
  await expect(calls.adopt('ok')?.settled).resolves.toBe('reply');
  expect(calls.size).toBe(2);
  await vi.advanceTimersByTimeAsync(10_000);
  expect(calls.size).toBe(0);
});
