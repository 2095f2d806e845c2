/**
 * The conversation's wait for its next message, bounded by the idle deadlines (idle upkeep, completion).
 *
 * `condition(fn, timeout)` starts a timer on every wait and cancels it when a message comes: two history events
 * per turn (TIMER_STARTED, TIMER_CANCELED) for a timer that almost never fires. Runs with IDLE_TIMER_KEPT_PATCH
 * keep one timer running across turns instead: it is armed only when none is running, and when it fires the
 * caller re-checks its deadlines (a timer armed before the last turn fires early and is armed again for the rest).
 * A conversation with turns seconds apart writes one timer per idle period rather than two events per turn.
 */
import { CancellationScope, condition, patched, sleep } from '@temporalio/workflow';

export const IDLE_TIMER_KEPT_PATCH = 'idle-timer-kept-across-turns';
/**
 * A kept timer that would fire after the deadline now wanted is cancelled and armed again. Without it, the timer
 * armed after an idle upkeep (for the idle timeout: days) outlived the next turn, and the idle upkeep of every later
 * pause waited for it: idle folds ran once per run.
 */
export const IDLE_TIMER_REARM_PATCH = 'idle-timer-rearmed-when-late';

export class IdleTimer {
  private running = false;
  private fired = false;
  /** When the running timer fires (workflow time), and the scope that cancels it. */
  private deadline = 0;
  private scope: CancellationScope | undefined;

  /** `kept`: the value of `patched(IDLE_TIMER_KEPT_PATCH)`, read once when the run starts. */
  constructor(readonly kept: boolean) {}

  /** True when `ready()` came true, false when the timer fired first. */
  async waitFor(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (!this.kept) return condition(ready, timeoutMs);
    const wanted = Date.now() + timeoutMs;
    if (this.running && this.deadline > wanted && patched(IDLE_TIMER_REARM_PATCH)) {
      this.scope?.cancel();
      this.running = false;
    }
    if (!this.running) {
      this.running = true;
      this.fired = false;
      this.deadline = wanted;
      const scope = new CancellationScope();
      this.scope = scope;
      void scope
        .run(() => sleep(timeoutMs))
        .then(
          () => {
            if (this.scope !== scope) return;
            this.running = false;
            this.fired = true;
          },
          // Cancelled: re-armed for an earlier deadline, or the run is ending; nothing waits for this timer any more.
          () => undefined,
        );
    }
    await condition(() => ready() || this.fired);
    if (ready()) return true;
    this.fired = false;
    return false;
  }
}
