import {
  LEDGER_FAILURE_WORDS,
  LeasedRateBudgets,
  type LedgerCall,
  type RateLeaseStore,
} from '../../klaviyo/leased-rate-budget';
import type { RateLimits } from '../../klaviyo/rate-budget';

/**
 * When a lease is asked for: a ledger's answer takes round trips to Postgres, slow when the worker's thread is busy,
 * and requests must not wait them out at every lease. (shared-rate-budget.test.ts checks the limits against Postgres.)
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A ledger that grants whatever is asked, `delayMs` after the ask. */
function slowLedger(delayMs: number): RateLeaseStore & { asks: number } {
  const store = {
    asks: 0,
    lease: async (_budget: string, _limits: RateLimits, want: number) => {
      store.asks++;
      await sleep(delayMs);
      return { lease: { id: String(store.asks), count: want } };
    },
    release: async () => undefined,
    pause: async () => undefined,
  };
  return store;
}

test('the next lease is asked for while the one in use serves: a slow ledger does not stall requests', async () => {
  const store = slowLedger(200);
  // The XL tier: leases of 59 slots, a second each.
  const tier = new LeasedRateBudgets({ store, maxRequestMs: 2_000 }).tier('acct-ahead', { burst: 350, steady: 3500 });
  const waits: number[] = [];
  const until = Date.now() + 3_500;
  while (Date.now() < until) {
    const asked = Date.now();
    const permit = await tier.acquire();
    waits.push(Date.now() - asked);
    // About 50 requests a second, within a lease's 59.
    await sleep(20);
    permit.release();
  }
  // The first request waits for the first lease; none after it waits for an ask (asked when a lease ran out, one
  // request in ~50 waited 200 ms at every lease).
  expect(waits[0]).toBeGreaterThanOrEqual(150);
  expect(waits.slice(1).filter((w) => w >= 100)).toEqual([]);
  expect(store.asks).toBeGreaterThanOrEqual(3);
}, 10_000);

test('a lease serves its whole use-by from when its grant arrived, however long the ask took', async () => {
  const store = slowLedger(400);
  const tier = new LeasedRateBudgets({ store, maxRequestMs: 2_000 }).tier('acct-late', { burst: 350, steady: 3500 });
  (await tier.acquire()).release();
  // 900 ms after the grant arrived (1,300 after the ask): the same lease still serves (counted from the ask, it had
  // ended, and the request would wait 400 ms for the next).
  await sleep(900);
  const asked = Date.now();
  (await tier.acquire()).release();
  expect(Date.now() - asked).toBeLessThan(100);
});

test('a small lease (a slow tier) is not asked for ahead: held idle, it would keep its burst from the others', async () => {
  const store = slowLedger(10);
  // The S tier: leases of one slot.
  const tier = new LeasedRateBudgets({ store, maxRequestMs: 2_000 }).tier('acct-small', { burst: 3, steady: 60 });
  (await tier.acquire()).release();
  await sleep(300);
  expect(store.asks).toBe(1);
});

test('a ledger that fails to take a lease back is reported as that, not as a lease being asked for again', async () => {
  const store = {
    ...slowLedger(0),
    release: async () => {
      throw new Error('Cannot use a pool after calling end on the pool');
    },
  };
  const failed: LedgerCall[] = [];
  const budgets = new LeasedRateBudgets({ store, onStoreError: (_err, call) => failed.push(call) });
  (await budgets.tier('acct-release', { burst: 3, steady: 60 }).acquire()).release();
  // The lease closes with its only slot spent and its request answered.
  await sleep(50);
  expect(failed).toEqual(['release']);
  expect(LEDGER_FAILURE_WORDS.release).toMatch(/counts its slots until it expires/);
});
