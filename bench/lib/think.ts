/**
 * Think time for the load generator: a user reads a reply and types before sending the next message, so a
 * conversation's next turn starts no sooner than `thinkMs` after its last one ended. A lane picks among its own
 * conversations those that are ready; when none is, it waits for the first to become ready.
 */

export interface ThinkClock {
  /** When each conversation's last turn ended (performance.now() ms); absent: never measured, ready at once. */
  lastEnded: Map<string, number>;
  thinkMs: number;
}

/** A ready conversation to send to now, or how long to wait for the first one of `own` to become ready. */
export function pickReady(
  clock: ThinkClock,
  own: readonly string[],
  now: number,
  random: () => number = Math.random,
): { id: string } | { waitMs: number } {
  if (own.length === 0) throw new Error('a lane needs at least one conversation');
  const readyAt = (id: string) => (clock.lastEnded.get(id) ?? -Infinity) + clock.thinkMs;
  const ready = own.filter((id) => readyAt(id) <= now);
  if (ready.length > 0) return { id: ready[Math.floor(random() * ready.length)]! };
  return { waitMs: Math.min(...own.map(readyAt)) - now };
}

/** The conversation a lane sends to next, after waiting out think time if it must. */
export async function nextConversation(clock: ThinkClock, own: readonly string[]): Promise<string> {
  for (;;) {
    const pick = pickReady(clock, own, performance.now());
    if ('id' in pick) {
      // Claimed until its turn ends (the caller records the end): another pick must not take it meanwhile.
      clock.lastEnded.set(pick.id, Infinity);
      return pick.id;
    }
    // Not finite when all of `own` are in flight in other lanes (fewer conversations than lanes): look again soon.
    const waitMs = Number.isFinite(pick.waitMs) ? pick.waitMs : 10;
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(waitMs))));
  }
}
