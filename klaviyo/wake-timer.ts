/**
 * One pending wake-up, kept at the earliest time asked for: how the rate budgets hand a freed slot to their
 * waiters without a timer per waiter.
 */
export class WakeTimer {
  private timer: NodeJS.Timeout | undefined;
  private at = Infinity;

  /** @param unref a process whose only pending work is this wake-up may exit */
  constructor(
    private readonly now: () => number,
    private readonly wake: () => void,
    private readonly unref = false,
  ) {}

  /** Wakes at `at` (on the `now` clock) unless an earlier wake-up is already set, which then sets the next one. */
  schedule(at: number): void {
    if (this.timer && this.at <= at) return;
    this.clear();
    this.at = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.at = Infinity;
        this.wake();
      },
      Math.max(0, at - this.now()),
    );
    if (this.unref) this.timer.unref();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Infinity;
  }
}
