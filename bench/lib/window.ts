/**
 * A sustained-throughput window inside a longer closed loop: the load runs through a warm-up, the window and past
 * its end, and only the turns that END inside the window count. The ramp at the start (lanes starting together,
 * conversations still in think time from the turns before) and the drain at the end (lanes waiting out think time
 * for one last turn, stragglers) then fall outside the figure instead of diluting it.
 */
import { mean, quantile } from './stats';

/** One turn as the load generator saw it (performance.now() ms). */
export interface TurnSpan {
  startMs: number;
  endMs: number;
  /** Times the turn was sent again after a 503 with Retry-After (bench/lib/load.ts postTurn). */
  retries?: number;
}

export interface WindowFigures {
  /** Turns that ended inside the window. */
  turns: number;
  turnsPerSecond: number;
  /** Mean and p95 round trip of those turns (ms). */
  meanRoundTripMs: number;
  roundTripP95Ms: number;
  /**
   * Share of lane time inside the window spent in a turn; the rest a lane waited for one of its conversations to
   * finish its think time. Near 1 the system under test sets the pace; well below 1 the think time does.
   */
  laneBusy: number;
  /** Retries after a 503 among the turns that ended inside the window. */
  retries: number;
}

/** The figures of the window [fromMs, toMs) over `lanes` lanes. */
export function windowFigures(spans: readonly TurnSpan[], fromMs: number, toMs: number, lanes: number): WindowFigures {
  if (!(toMs > fromMs)) throw new Error('the window must have a positive length');
  const ended = spans.filter((s) => s.endMs >= fromMs && s.endMs < toMs);
  const busyMs = spans.reduce((a, s) => a + Math.max(0, Math.min(s.endMs, toMs) - Math.max(s.startMs, fromMs)), 0);
  return {
    turns: ended.length,
    turnsPerSecond: ended.length / ((toMs - fromMs) / 1000),
    meanRoundTripMs: mean(ended.map((s) => s.endMs - s.startMs)),
    roundTripP95Ms: quantile(
      ended.map((s) => s.endMs - s.startMs),
      0.95,
    ),
    laneBusy: busyMs / (lanes * (toMs - fromMs)),
    retries: ended.reduce((a, s) => a + (s.retries ?? 0), 0),
  };
}
