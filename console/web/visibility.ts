/** What the poller reads of `document`: whether the page is hidden, and word when that changes. */
export interface VisibilitySource {
  readonly hidden: boolean;
  addEventListener(type: 'visibilitychange', listener: () => void): void;
  removeEventListener(type: 'visibilitychange', listener: () => void): void;
}

/**
 * The timer of one poller that asks only while the page is shown: a poll that falls due while the tab is hidden
 * (or in the background, or the window minimised) waits, and runs at once when the page is shown again, so the
 * user sees fresh data on coming back and a forgotten tab costs the server nothing. `doc` is `document` in the
 * browser; a test hands in its own.
 */
export class VisiblePoller {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** A poll fell due, or was waiting to, while the page was hidden. */
  private waiting = false;

  constructor(
    private readonly tick: () => void,
    private readonly doc: VisibilitySource,
  ) {
    doc.addEventListener('visibilitychange', this.onVisibility);
  }

  /** Runs `tick` in `delay` ms, or as soon as the page is shown if it is hidden then. Replaces what was scheduled. */
  schedule(delay: number): void {
    this.cancel();
    if (this.doc.hidden) {
      this.waiting = true;
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.doc.hidden) this.waiting = true;
      else this.tick();
    }, delay);
  }

  /** Forgets what was scheduled (a reload is under way, or polling stops). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = false;
  }

  /** Stops for good: no timer, no listener. */
  dispose(): void {
    this.cancel();
    this.doc.removeEventListener('visibilitychange', this.onVisibility);
  }

  private readonly onVisibility = (): void => {
    if (this.doc.hidden) {
      if (this.timer === undefined) return;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.waiting = true;
    } else if (this.waiting) {
      this.waiting = false;
      this.tick();
    }
  };
}
