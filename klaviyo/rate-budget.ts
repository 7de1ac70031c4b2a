import { RATE_TIERS } from './catalog';
import { WaiterQueue } from './waiter-queue';
import { WakeTimer } from './wake-timer';

/**
 * Client-side rate budgets, one per Klaviyo account and rate tier, shared by every caller in the
 * process. Klaviyo counts requests in fixed windows (1 s burst, 60 s steady) per account and tier; this
 * keeps a sliding-window log with the same limits, which can never put more requests in any fixed
 * window than the limit, so callers can run close to 100% of a tier without a 429.
 *
 * A request holds its slot from the moment it is granted until its answer arrived plus the window
 * length: Klaviyo counts it at some instant between those two, so N+1 requests counted in one fixed
 * window would need N slots still held when the last was granted — which the log forbids.
 */

export const BURST_WINDOW_MS = 1_000;
export const STEADY_WINDOW_MS = 60_000;

/** Requests allowed per burst window (1 s) and per steady window (60 s). */
export interface RateLimits {
  burst: number;
  steady: number;
}

/** A granted request; call `release()` once its answer (or failure) arrived. Releasing twice is a no-op. */
export interface RatePermit {
  release(): void;
}

/** What the Klaviyo client needs of one tier's budget: the process-local {@link TierBudget} or a shared one. */
export interface TierRateBudget {
  /** Resolves when a request may be sent; rejects with the signal's reason if it is aborted first. */
  acquire(signal?: AbortSignal): Promise<RatePermit>;
  /** Grants nothing before `time` (epoch ms), e.g. because Klaviyo answered 429 with `Retry-After`. */
  pauseUntil(time: number): void;
}

/** Where a client finds the budget of an account's tier. */
export interface RateBudgetSource {
  tier(accountKey: string, limits: RateLimits): TierRateBudget;
}

interface Slot {
  /** Until when the slot counts against the burst limit; Infinity while the request is in flight. */
  burstUntil: number;
  steadyUntil: number;
}

/** The name Klaviyo's docs use for limits (`L`), or `burst/steady` for limits of no named tier. */
export function tierName(limits: RateLimits): string {
  for (const [name, tier] of Object.entries(RATE_TIERS)) {
    if (tier.burst === limits.burst && tier.steady === limits.steady) return name;
  }
  return `${limits.burst}/s·${limits.steady}/min`;
}

/** One tier of one account: grants requests in FIFO order within both windows. */
export class TierBudget implements TierRateBudget {
  private slots: Slot[] = [];
  private readonly waiters = new WaiterQueue<RatePermit>(() => this.pump());
  private pausedUntil = 0;
  private readonly wakeTimer = new WakeTimer(
    () => this.now(),
    () => this.pump(),
  );

  constructor(
    readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limits.burst >= 1 && limits.steady >= 1)) {
      throw new RangeError(`Rate limits must allow at least one request per window, got ${JSON.stringify(limits)}`);
    }
  }

  /** Resolves when a request may be sent; rejects with the signal's reason if it is aborted first. */
  acquire(signal?: AbortSignal): Promise<RatePermit> {
    const permit = this.waiters.wait(signal);
    this.pump();
    return permit;
  }

  /** Grants nothing before `time` (epoch ms), e.g. because Klaviyo answered 429 with `Retry-After`. */
  pauseUntil(time: number): void {
    if (time <= this.pausedUntil) return;
    this.pausedUntil = time;
    this.pump();
  }

  /** The time (epoch ms) before which nothing is granted because of `pauseUntil`. */
  get pausedUntilTime(): number {
    return this.pausedUntil;
  }

  /** Requests granted whose slot still counts against the steady window (in flight or recent). */
  get slotsHeld(): number {
    const now = this.now();
    return this.slots.filter((s) => s.steadyUntil > now).length;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  private pump(): void {
    const now = this.now();
    this.slots = this.slots.filter((s) => s.steadyUntil > now);
    while (this.waiters.length > 0) {
      const wakeAt = this.nextGrantTime(now);
      if (wakeAt > now) {
        this.schedule(wakeAt);
        return;
      }
      this.waiters.resolveNext(() => this.grant());
    }
    this.wakeTimer.clear();
  }

  /** `now` if a request may go now, else the earliest time something changes (Infinity: a release). */
  private nextGrantTime(now: number): number {
    if (this.pausedUntil > now) return this.pausedUntil;
    let wakeAt = now;
    if (this.slots.length >= this.limits.steady) {
      wakeAt = Math.max(
        wakeAt,
        nthSmallest(
          this.slots.map((s) => s.steadyUntil),
          this.slots.length - this.limits.steady,
        ),
      );
    }
    const burstHeld = this.slots.filter((s) => s.burstUntil > now);
    if (burstHeld.length >= this.limits.burst) {
      wakeAt = Math.max(
        wakeAt,
        nthSmallest(
          burstHeld.map((s) => s.burstUntil),
          burstHeld.length - this.limits.burst,
        ),
      );
    }
    return wakeAt;
  }

  private grant(): RatePermit {
    const slot: Slot = { burstUntil: Infinity, steadyUntil: Infinity };
    this.slots.push(slot);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const answeredAt = this.now();
        slot.burstUntil = answeredAt + BURST_WINDOW_MS;
        slot.steadyUntil = answeredAt + STEADY_WINDOW_MS;
        this.pump();
      },
    };
  }

  private schedule(at: number): void {
    // At Infinity only a release can free a slot; release() pumps.
    if (at === Infinity) this.wakeTimer.clear();
    else this.wakeTimer.schedule(at);
  }
}

/** The k-th smallest (0-based) of `values`: the expiry that frees enough slots for one more request. */
function nthSmallest(values: number[], k: number): number {
  return values.sort((a, b) => a - b)[k];
}

/** The budgets of one Klaviyo account, one per distinct pair of limits. */
export class AccountRateBudget {
  private readonly tiers = new Map<string, TierBudget>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The budget for requests with these limits (created on first use). */
  tier(limits: RateLimits): TierBudget {
    const key = `${limits.burst}/${limits.steady}`;
    let budget = this.tiers.get(key);
    if (!budget) {
      budget = new TierBudget({ burst: limits.burst, steady: limits.steady }, this.now);
      this.tiers.set(key, budget);
    }
    return budget;
  }
}

const accounts = new Map<string, AccountRateBudget>();

/** The process-wide budgets: what a client uses when it is given no other source. */
export const PROCESS_RATE_BUDGETS: RateBudgetSource = {
  tier: (accountKey, limits) => accountRateBudget(accountKey).tier(limits),
};

/**
 * The process-wide budget of one Klaviyo account. `accountKey` identifies the account (its id, or a
 * hash of base URL and key); it is never the API key itself.
 */
export function accountRateBudget(accountKey: string): AccountRateBudget {
  let budget = accounts.get(accountKey);
  if (!budget) {
    budget = new AccountRateBudget();
    accounts.set(accountKey, budget);
  }
  return budget;
}
