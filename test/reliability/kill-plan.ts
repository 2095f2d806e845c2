/**
 * The load plan of the worker-kill scenario: how many turns the clients send for N kills, and when each kill is
 * due. Every requested kill must land while turns are in flight, for any N — a 40-kill run once ended after 38
 * kills because the clients had a fixed number of turns and ran out of them while replacement workers were still
 * starting. So the plan's turn count is a share, not a stop: lanes go on sending until every kill has happened,
 * bounded by `maxTurns` (every loop of the suite is bounded in count) and the run's deadline.
 */

/** Turns planned per kill: spread over the run, the kills then meet model calls, persists and compactions. */
export const TURNS_PER_KILL = 6;

export interface KillPlan {
  conversations: number;
  kills: number;
  /** Turns each conversation sends at least: its share of `TURNS_PER_KILL` per kill, six at the least. */
  minTurns: number;
  /** Turns no conversation sends more than, however late the kills come. */
  maxTurns: number;
  /** Kill k is due once this many turns are answered (spread evenly over the planned turns). */
  killAt: number[];
  /**
   * While kill k is due, the clients hold back new turns once this many are answered: a recovered worker answers
   * the turns that waited for it in a burst, and the kills must not fall behind the load.
   */
  holdAt: number[];
}

/** The plan for `kills` kills among `conversations` conversations. */
export function planKillLoad(kills: number, conversations: number): KillPlan {
  if (!(Number.isInteger(kills) && kills > 0 && Number.isInteger(conversations) && conversations > 0))
    throw new RangeError(`kills and conversations must be positive integers (got ${kills}, ${conversations})`);
  const minTurns = Math.max(6, Math.ceil((kills * TURNS_PER_KILL) / conversations));
  const planned = conversations * minTurns;
  // planned ≥ 6 × kills, so consecutive kills are at least 3 answered turns apart.
  const killAt = Array.from({ length: kills }, (_, k) => Math.floor((planned * (k + 1)) / (kills + 1)));
  return {
    conversations,
    kills,
    minTurns,
    // Past its share a lane keeps going only while kills are outstanding. The clients are held at `holdAt` while
    // a replacement worker starts, but run free while a kill waits for its moment, so the load can run ahead of
    // the plan by a few turns per kill. Four times the share bounds the loop without being the reason it stops.
    maxTurns: 4 * minTurns,
    killAt,
    holdAt: killAt.map((n) => n + conversations),
  };
}

/** Whether a lane that has sent `sent` turns may stop: every kill happened and it sent its share, or the bound. */
export function laneMayStop(plan: KillPlan, sent: number, killsDone: number): boolean {
  return sent >= plan.maxTurns || (killsDone >= plan.kills && sent >= plan.minTurns);
}

/**
 * Whether the clients hold back new turns: while the next kill is due and its replacement-worker start-up of the
 * previous kill let the load run ahead (`holdAt`), but never while the kill waits for its moment — a reply call
 * open, a persist — which only running turns bring (held clients made those kills wait out 20 s and land anywhere).
 */
export function clientsHeld(
  plan: KillPlan,
  state: { killsDone: number; answered: number; awaitingMoment: boolean },
): boolean {
  const next = plan.holdAt[state.killsDone];
  return next !== undefined && !state.awaitingMoment && state.answered >= next;
}
