/**
 * How a window of one of Klaviyo's limits forgets the requests it counted. `fixed`: the burst and steady rate
 * limits, whose window opens with the first request after the previous one closed and forgets all it counted when it
 * closes. `rolling`: the Reporting API's daily quota, which forgets each request one window length after it.
 */
export type WindowKind = 'fixed' | 'rolling';

/** The requests one window of a limit counted, on whatever millisecond clock the caller keeps. */
export class RequestWindow {
  /** When each counted request was made, oldest first. */
  private counted: number[] = [];

  constructor(
    private readonly kind: WindowKind,
    /** May change while requests are counted (the quota's day): they stay counted, measured by the new length. */
    public lengthMs: number,
  ) {}

  /** Requests counted in the window at `now`. */
  used(now: number): number {
    this.forget(now);
    return this.counted.length;
  }

  count(now: number): void {
    this.counted.push(now);
  }

  /** Whole seconds (at least 1) until the window counts one request fewer: when its oldest request leaves it. */
  secondsUntilFree(now: number): number {
    const oldest = this.counted[0] ?? now;
    return Math.max(1, Math.ceil((oldest + this.lengthMs - now) / 1000));
  }

  private forget(now: number): void {
    const counted = this.counted;
    if (counted.length === 0 || counted[0] + this.lengthMs > now) return;
    if (this.kind === 'fixed') {
      this.counted = [];
      return;
    }
    let drop = 1;
    while (drop < counted.length && counted[drop] + this.lengthMs <= now) drop++;
    this.counted = counted.slice(drop);
  }
}
