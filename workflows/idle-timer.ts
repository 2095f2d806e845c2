/**
 * The conversation's wait for its next message, bounded by the idle deadlines (idle upkeep, completion).
 *
 * `condition(fn, timeout)` starts a timer on every wait and cancels it when a message comes: two history events
 * per turn (TIMER_STARTED, TIMER_CANCELED) for a timer that almost never fires. Runs with IDLE_TIMER_KEPT_PATCH
 * keep one timer running across turns instead: it is armed only when none is running, and when it fires the
 * caller re-checks its deadlines (a timer armed before the last turn fires early and is armed again for the rest).
 * A conversation with turns seconds apart writes one timer per idle period rather than two events per turn.
 */
import { condition, sleep } from '@temporalio/workflow';

export const IDLE_TIMER_KEPT_PATCH = 'idle-timer-kept-across-turns';

export class IdleTimer {
  private running = false;
  private fired = false;

  /** `kept`: the value of `patched(IDLE_TIMER_KEPT_PATCH)`, read once when the run starts. */
  constructor(readonly kept: boolean) {}

  /** True when `ready()` came true, false when the timer fired first. */
  async waitFor(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (!this.kept) return condition(ready, timeoutMs);
    if (!this.running) {
      this.running = true;
      this.fired = false;
      void sleep(timeoutMs).then(
        () => {
          this.running = false;
          this.fired = true;
        },
        // Cancelled with the workflow: the run is ending, nothing waits for this timer any more.
        () => undefined,
      );
    }
    await condition(() => ready() || this.fired);
    if (ready()) return true;
    this.fired = false;
    return false;
  }
}
