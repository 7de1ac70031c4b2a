import {
  accountRateBudget,
  BURST_WINDOW_MS,
  STEADY_WINDOW_MS,
  TierBudget,
  tierName,
  type RatePermit,
} from '../../klaviyo/rate-budget';

const T0 = 1_700_000_000_000;

beforeEach(() => {
  jest.useFakeTimers({ now: T0 });
});

afterEach(() => {
  jest.useRealTimers();
});

/** Acquires and records the simulated time of the grant. */
function acquireTimed(budget: TierBudget, signal?: AbortSignal) {
  const entry: { grantedAt?: number; permit?: RatePermit; error?: unknown } = {};
  budget.acquire(signal).then(
    (permit) => {
      entry.grantedAt = Date.now();
      entry.permit = permit;
    },
    (error) => {
      entry.error = error;
    },
  );
  return entry;
}

/** The most requests any fixed window of `length` ms (at `phase`) contains. */
function maxInFixedWindow(times: number[], length: number, phase: number): number {
  const counts = new Map<number, number>();
  for (const t of times) {
    const window = Math.floor((t - phase) / length);
    counts.set(window, (counts.get(window) ?? 0) + 1);
  }
  return Math.max(0, ...counts.values());
}

describe('TierBudget', () => {
  it('grants a burst at once and the next request only a burst window after an answer', async () => {
    const budget = new TierBudget({ burst: 3, steady: 100 }, () => Date.now());
    const entries = [1, 2, 3, 4].map(() => acquireTimed(budget));
    await jest.advanceTimersByTimeAsync(0);
    expect(entries.slice(0, 3).every((e) => e.grantedAt === T0)).toBe(true);
    expect(entries[3].grantedAt).toBeUndefined();

    await jest.advanceTimersByTimeAsync(100);
    entries[0].permit?.release();
    await jest.advanceTimersByTimeAsync(BURST_WINDOW_MS - 1);
    expect(entries[3].grantedAt).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(entries[3].grantedAt).toBe(T0 + 100 + BURST_WINDOW_MS);
  });

  it('keeps counting a request that is still in flight', async () => {
    const budget = new TierBudget({ burst: 1, steady: 10 }, () => Date.now());
    acquireTimed(budget);
    const second = acquireTimed(budget);
    await jest.advanceTimersByTimeAsync(5 * BURST_WINDOW_MS);
    expect(second.grantedAt).toBeUndefined();
  });

  it('grants nothing before a pause ends', async () => {
    const budget = new TierBudget({ burst: 10, steady: 100 }, () => Date.now());
    budget.pauseUntil(T0 + 2_500);
    const entry = acquireTimed(budget);
    await jest.advanceTimersByTimeAsync(2_499);
    expect(entry.grantedAt).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(entry.grantedAt).toBe(T0 + 2_500);
  });

  it('serves waiters in the order they asked', async () => {
    const budget = new TierBudget({ burst: 1, steady: 100 }, () => Date.now());
    const order: number[] = [];
    const first = await budget.acquire();
    const waiting = [1, 2, 3].map((n) =>
      budget.acquire().then((permit) => {
        order.push(n);
        permit.release();
      }),
    );
    first.release();
    await jest.advanceTimersByTimeAsync(10 * BURST_WINDOW_MS);
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
  });

  it('rejects an aborted waiter with the abort reason and gives its turn to the next', async () => {
    const budget = new TierBudget({ burst: 1, steady: 100 }, () => Date.now());
    const first = acquireTimed(budget);
    await jest.advanceTimersByTimeAsync(0);
    const controller = new AbortController();
    const aborted = acquireTimed(budget, controller.signal);
    const next = acquireTimed(budget);
    controller.abort(new Error('run cancelled'));
    first.permit?.release();
    await jest.advanceTimersByTimeAsync(BURST_WINDOW_MS);
    expect((aborted.error as Error).message).toBe('run cancelled');
    expect(next.grantedAt).toBe(T0 + BURST_WINDOW_MS);
  });

  it('never exceeds a fixed window of either length, whatever its phase, yet reaches the steady limit', async () => {
    const limits = { burst: 75, steady: 750 };
    const budget = new TierBudget(limits, () => Date.now());
    // Klaviyo counts a request at some instant between sending and answering: draw it at random.
    const countedAt: number[] = [];
    const grantedAt: number[] = [];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2_400; i++) {
      void budget.acquire().then((permit) => {
        const sent = Date.now();
        const latency = 5 + Math.floor(random() * 300);
        grantedAt.push(sent);
        countedAt.push(sent + Math.floor(random() * latency));
        setTimeout(() => permit.release(), latency);
      });
    }
    await jest.advanceTimersByTimeAsync(2 * STEADY_WINDOW_MS);

    for (const phase of [0, 137, 500, 999]) {
      expect(maxInFixedWindow(countedAt, BURST_WINDOW_MS, phase)).toBeLessThanOrEqual(limits.burst);
    }
    for (const phase of [0, 7_000, 29_999, 45_123]) {
      expect(maxInFixedWindow(countedAt, STEADY_WINDOW_MS, phase)).toBeLessThanOrEqual(limits.steady);
    }
    const inTwoMinutes = grantedAt.filter((t) => t < T0 + 2 * STEADY_WINDOW_MS).length;
    expect(inTwoMinutes).toBeGreaterThanOrEqual(0.95 * 2 * limits.steady);
  });
});

describe('accountRateBudget', () => {
  it('gives every caller of one account the same tier budget', () => {
    const a = accountRateBudget('account-A').tier({ burst: 75, steady: 750 });
    const b = accountRateBudget('account-A').tier({ burst: 75, steady: 750 });
    expect(a).toBe(b);
  });

  it('keeps separate budgets for separate accounts and separate tiers', () => {
    const l = accountRateBudget('account-B').tier({ burst: 75, steady: 750 });
    expect(accountRateBudget('account-C').tier({ burst: 75, steady: 750 })).not.toBe(l);
    expect(accountRateBudget('account-B').tier({ burst: 10, steady: 150 })).not.toBe(l);
  });
});

describe('tierName', () => {
  it("names limits after Klaviyo's tier, or spells them out", () => {
    expect(tierName({ burst: 10, steady: 150 })).toBe('M');
    expect(tierName({ burst: 2, steady: 7 })).toBe('2/s·7/min');
  });
});
