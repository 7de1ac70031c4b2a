import { randomUUID } from 'node:crypto';
import {
  STEADY_WINDOW_MS,
  type RateBudgetSource,
  type RateLimits,
  type RatePermit,
  type TierRateBudget,
} from './rate-budget';
import { WaiterQueue } from './waiter-queue';
import { WakeTimer } from './wake-timer';

/**
 * Rate budgets shared by every worker: each worker leases request slots from one ledger per account and tier
 * (Postgres, see control-plane/rate-leases.ts) in small batches, and spends them locally without a round trip.
 *
 * A lease of K slots is granted at time g and released when its last request was answered (or its use-by passed
 * with nothing in flight); the ledger counts it as K requests held from g until release + the window, exactly as the
 * process-local budget counts one request from grant until answer + window. Every request of the lease is counted by
 * Klaviyo at some instant in [g, release], so the same argument holds: N+1 requests in one fixed window would need
 * leases holding N slots at the latest grant, which the ledger refuses. A lease is never larger than the burst limit.
 *
 * A worker that dies never releases its leases: the ledger then treats them as released at their expiry (use-by plus
 * the longest a request may take), so the survivors wait for those slots rather than overdraw the account.
 */

/** The ledger's calls. */
export type LedgerCall = 'lease' | 'release' | 'pause';

/** One granted lease, as the ledger answers it. */
export interface GrantedLease {
  id: string;
  count: number;
}

/** The ledger's answer: a lease, or how long until one could be granted (a full window or a 429 pause). */
export type LeaseAnswer = { lease: GrantedLease } | { retryInMs: number };

/** The shared ledger. Times are the ledger's own clock: a worker's clock never decides what another may send. */
export interface RateLeaseStore {
  /**
   * Grants up to `want` slots of the budget `budget` (at least one, or none) held at most `holdMs` unless released.
   * Askers are served in the order they were first refused: `asker` names one (a tier budget of one worker), so a
   * worker that lost the race for freed slots is not refused again by one that was just granted.
   */
  lease(budget: string, limits: RateLimits, want: number, holdMs: number, asker: string): Promise<LeaseAnswer>;
  /** The lease's requests are all answered; `used` of its slots were sent (0: as if never granted). */
  release(id: string, used: number): Promise<void>;
  /** Nothing of `budget` is granted for `ms` from now (Klaviyo answered 429). */
  pause(budget: string, ms: number): Promise<void>;
}

export interface LeasedRateBudgetOptions {
  store: RateLeaseStore;
  /**
   * How long a lease may be used to start requests, counted from when its grant arrived, or from half of
   * HOLD_MARGIN_MS after the ask if it came later. @default 1_000 (ms)
   */
  useByMs?: number;
  /** The longest a request may be in flight (the Klaviyo client's timeout). @default 60_000 (ms) */
  maxRequestMs?: number;
  /** Told when the ledger cannot be reached, with what failed ({@link LEDGER_FAILURE_WORDS} says what follows). */
  onStoreError?: (err: unknown, failed: LedgerCall) => void;
  /** @default performance.now-like monotonic clock */
  now?: () => number;
}

/**
 * Slots a lease asks for: about a second of the tier's steady rate (about one ask a second per busy worker), and at
 * most half the burst, so one worker's lease never takes a whole burst window from the others (nor do the two it holds
 * while it asks ahead: 26 of the L tier's 75, 118 of the XL tier's 350).
 */
export function leaseSize(limits: RateLimits): number {
  return Math.max(1, Math.min(Math.floor(limits.burst / 2), Math.ceil(limits.steady / (STEADY_WINDOW_MS / 1_000))));
}

/** Extra time a lease is held past use-by and the longest request, for clock rates and the release's own latency. */
const HOLD_MARGIN_MS = 5_000;
/** Waits between asks when the ledger is unreachable, and the least wait after a refusal. */
const STORE_RETRY_MS = 500;
const MIN_RETRY_MS = 10;
/** Leases this large or larger are asked for ahead (see {@link LeasedTierBudget.askAhead}); smaller ones when spent. */
const ASK_AHEAD_MIN_SLOTS = 4;

/** What follows when a ledger call fails, for the worker's warning. */
export const LEDGER_FAILURE_WORDS: Record<LedgerCall, string> = {
  lease: `no lease; nothing is sent until the ledger answers, asked again every ${STORE_RETRY_MS / 1_000} s`,
  release: 'a lease not given back; the ledger counts its slots until it expires, about a minute',
  pause: "a 429 pause not shared; this worker pauses, the others learn of it from Klaviyo's own 429s",
};

interface Lease {
  id: string;
  /** Slots granted. */
  count: number;
  remaining: number;
  used: number;
  inFlight: number;
  /** Local monotonic time after which no request of this lease may start. */
  useBy: number;
  closed: boolean;
}

/** One tier of one account, spent from leases of the shared ledger. FIFO within this process. */
export class LeasedTierBudget implements TierRateBudget {
  private readonly leases: Lease[] = [];
  /** This budget's place in the ledger's queue of refused askers. */
  private readonly asker = randomUUID();
  private readonly waiters = new WaiterQueue<RatePermit>();
  private asking = false;
  /** How long the latest granted ask took (ms). */
  private lastAskMs = 0;
  /** No ask ahead before this (after a refusal or a ledger error): the ledger would only say no again. */
  private askAheadAfter = 0;
  private pausedUntil = 0;
  /** Only needed while someone waits or a lease is open; neither keeps a process alive alone. */
  private readonly wakeTimer = new WakeTimer(
    () => this.now(),
    () => this.pump(),
    true,
  );
  private readonly useByMs: number;
  private readonly holdMs: number;
  private readonly now: () => number;

  constructor(
    private readonly budget: string,
    readonly limits: RateLimits,
    private readonly options: LeasedRateBudgetOptions,
  ) {
    this.useByMs = options.useByMs ?? 1_000;
    this.holdMs = this.useByMs + (options.maxRequestMs ?? 60_000) + HOLD_MARGIN_MS;
    this.now = options.now ?? (() => performance.now());
  }

  acquire(signal?: AbortSignal): Promise<RatePermit> {
    const permit = this.waiters.wait(signal);
    this.pump();
    return permit;
  }

  /** `time` is epoch ms (Retry-After); the pause is shared through the ledger as a duration. */
  pauseUntil(time: number): void {
    const ms = time - Date.now();
    if (ms <= 0) return;
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    // Requests not started yet must not go out on leases granted before the 429.
    for (const lease of this.leases) lease.useBy = Math.min(lease.useBy, this.now());
    this.closeFinished();
    this.options.store.pause(this.budget, ms).catch((err: unknown) => this.options.onStoreError?.(err, 'pause'));
    this.wakeTimer.schedule(this.pausedUntil);
  }

  /** Slots of open leases not used yet (for tests and metrics). */
  get unusedSlots(): number {
    return this.leases.filter((l) => !l.closed).reduce((sum, l) => sum + l.remaining, 0);
  }

  private pump(): void {
    this.closeFinished();
    const now = this.now();
    if (this.pausedUntil > now) {
      this.wakeTimer.schedule(this.pausedUntil);
      return;
    }
    while (this.waiters.length > 0) {
      const lease = this.leases.find((l) => !l.closed && l.remaining > 0 && l.useBy > now);
      if (!lease) break;
      this.waiters.resolveNext(() => this.spend(lease));
    }
    if (this.waiters.length > 0) this.ask();
  }

  private spend(lease: Lease): RatePermit {
    lease.remaining--;
    lease.used++;
    lease.inFlight++;
    // The lease must close at its use-by even if no request comes to notice it.
    if (lease.remaining > 0) this.wakeTimer.schedule(lease.useBy);
    this.askAhead(lease);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        lease.inFlight--;
        this.pump();
      },
    };
  }

  /**
   * Asks for the next lease while `lease` still serves, so requests do not wait out the ask: when three-quarters of
   * its slots are spent, or less of its use-by is left than twice the latest ask took (at most three-quarters of it).
   * Asked only once a lease ran out, requests stalled at every lease for the ask's round trips: 13–180 ms on a quiet
   * ledger, 400–830 ms with the worker's thread busy with pages (48 slices of events at 1,000 ms latency, where the
   * read stayed at ~27 requests/s whatever the slices, and reached ~36/s without the budget). Small leases (the
   * slower tiers) are asked for when spent: one held ahead would hold a tier's whole burst from the others.
   */
  private askAhead(lease: Lease): void {
    const now = this.now();
    if (this.asking || lease.count < ASK_AHEAD_MIN_SLOTS || now < this.askAheadAfter) return;
    if (this.leases.some((l) => l !== lease && !l.closed && l.remaining > 0 && l.useBy > now)) return;
    const aheadMs = Math.min(this.useByMs * 0.75, 2 * this.lastAskMs);
    if (lease.remaining <= lease.count / 4 || lease.useBy - now <= aheadMs) this.ask();
  }

  /** Releases leases that can start nothing more and have nothing in flight. */
  private closeFinished(): void {
    const now = this.now();
    for (let i = this.leases.length - 1; i >= 0; i--) {
      const lease = this.leases[i];
      if (lease.inFlight > 0 || (lease.remaining > 0 && lease.useBy > now)) continue;
      this.leases.splice(i, 1);
      lease.closed = true;
      this.options.store
        .release(lease.id, lease.used)
        .catch((err: unknown) => this.options.onStoreError?.(err, 'release'));
    }
  }

  private ask(): void {
    if (this.asking) return;
    this.asking = true;
    const askedAt = this.now();
    this.options.store.lease(this.budget, this.limits, leaseSize(this.limits), this.holdMs, this.asker).then(
      (answer) => {
        this.asking = false;
        if ('lease' in answer) {
          const answeredAt = this.now();
          this.lastAskMs = answeredAt - askedAt;
          // Use-by counts from the grant's arrival: from the ask, a slow ask (the worker's thread busy) left the lease a
          // fraction of its second. Safe: the ledger holds the lease for use-by, the longest request and
          // HOLD_MARGIN_MS from its grant, which came after the ask; an answer later than half that margin counts
          // from the half.
          this.leases.push({
            ...answer.lease,
            remaining: answer.lease.count,
            used: 0,
            inFlight: 0,
            useBy: Math.min(answeredAt, askedAt + HOLD_MARGIN_MS / 2) + this.useByMs,
            closed: false,
          });
          this.pump();
        } else {
          // A little jitter, so workers refused together do not all ask again at the same instant.
          const retryAt = this.now() + Math.max(MIN_RETRY_MS, answer.retryInMs) + Math.random() * 20;
          this.askAheadAfter = retryAt;
          this.wakeTimer.schedule(retryAt);
        }
      },
      (err: unknown) => {
        this.asking = false;
        this.options.onStoreError?.(err, 'lease');
        this.askAheadAfter = this.now() + STORE_RETRY_MS;
        this.wakeTimer.schedule(this.askAheadAfter);
      },
    );
  }
}

/** Budgets shared through a ledger: one {@link LeasedTierBudget} per account and tier in this process. */
export class LeasedRateBudgets implements RateBudgetSource {
  private readonly budgets = new Map<string, LeasedTierBudget>();

  constructor(private readonly options: LeasedRateBudgetOptions) {}

  tier(accountKey: string, limits: RateLimits): TierRateBudget {
    const budget = `${accountKey}|${limits.burst}/${limits.steady}`;
    let tier = this.budgets.get(budget);
    if (!tier) {
      tier = new LeasedTierBudget(budget, { burst: limits.burst, steady: limits.steady }, this.options);
      this.budgets.set(budget, tier);
    }
    return tier;
  }
}
