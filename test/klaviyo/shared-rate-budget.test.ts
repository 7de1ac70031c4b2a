import pg from 'pg';
import { PostgresRateLeases } from '../../control-plane/rate-leases';
import { LeasedRateBudgets, leaseSize } from '../../klaviyo/leased-rate-budget';
import { BURST_WINDOW_MS, type RateLimits } from '../../klaviyo/rate-budget';
import { createScratchDatabase, type ScratchDatabase } from '../control-plane/scratch-database';

/**
 * The budget shared through Postgres: three "workers" (each its own pool and budgets, as three processes would have)
 * draw on one account's tier; together they never put more requests in a window than the tier allows, and a worker
 * that dies holding leases costs the survivors those slots until the leases expire, never more.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let db: ScratchDatabase;
const pools: pg.Pool[] = [];
const storeErrors: unknown[] = [];

afterEach(() => {
  // The ledger must answer every ask: an error here would pass as a "wait" otherwise.
  expect(storeErrors).toEqual([]);
});

beforeAll(async () => {
  db = await createScratchDatabase('leases', { migrate: false });
});

afterAll(async () => {
  for (const pool of pools) await pool.end();
  await db?.drop();
});

function worker(): { budgets: LeasedRateBudgets; store: PostgresRateLeases } {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // As the worker's pool does: an idle connection that Postgres closes is dropped, and the next query reconnects.
  pool.on('error', () => undefined);
  pools.push(pool);
  const store = new PostgresRateLeases(pool);
  const onStoreError = (err: unknown) => storeErrors.push(err);
  return { budgets: new LeasedRateBudgets({ store, maxRequestMs: 2_000, onStoreError }), store };
}

/** Sends requests of `ms` each, one after the other, on `budget` until `until`; returns their send times. */
async function sendLoop(
  budgets: LeasedRateBudgets,
  account: string,
  limits: RateLimits,
  until: number,
  ms = 5,
): Promise<number[]> {
  const tier = budgets.tier(account, limits);
  const sent: number[] = [];
  const signal = AbortSignal.timeout(until - Date.now());
  for (;;) {
    let permit;
    try {
      permit = await tier.acquire(signal);
    } catch {
      return sent;
    }
    sent.push(Date.now());
    await new Promise((r) => setTimeout(r, ms));
    permit.release();
  }
}

/** The most requests any fixed window of `length` ms contains, over every phase in 10 ms steps. */
function maxInAnyFixedWindow(times: number[], length: number): number {
  let max = 0;
  for (let phase = 0; phase < length; phase += 10) {
    const counts = new Map<number, number>();
    for (const t of times) {
      const window = Math.floor((t - phase) / length);
      counts.set(window, (counts.get(window) ?? 0) + 1);
    }
    max = Math.max(max, ...counts.values());
  }
  return max;
}

test('a lease is about a second of the steady rate, never above the burst', () => {
  expect(leaseSize({ burst: 1, steady: 15 })).toBe(1);
  expect(leaseSize({ burst: 10, steady: 150 })).toBe(3);
  expect(leaseSize({ burst: 75, steady: 750 })).toBe(13);
  expect(leaseSize({ burst: 350, steady: 3500 })).toBe(59);
});

test('three workers together stay within the burst limit in every fixed window, and use most of it', async () => {
  const limits = { burst: 6, steady: 10_000 };
  // Leases of 3: two workers are served per window, the third waits its turn. Before the ledger kept refused askers'
  // places, a worker could lose the race for freed slots every time for 8 s (a clean clone saw it twice).
  const SECONDS = 8;
  const until = Date.now() + SECONDS * 1_000;
  const workers = [worker(), worker(), worker()];
  // Two concurrent callers per worker, as two tables of one account would be.
  const runs = await Promise.all(
    workers.flatMap((w) => [
      sendLoop(w.budgets, 'acct-burst', limits, until),
      sendLoop(w.budgets, 'acct-burst', limits, until),
    ]),
  );
  const all = runs.flat().sort((a, b) => a - b);
  const max = maxInAnyFixedWindow(all, BURST_WINDOW_MS);
  const perSecond = all.length / SECONDS;
  console.log(
    `shared budget: ${all.length} requests in ${SECONDS} s from 3 workers (${perSecond.toFixed(1)}/s; burst 6), max ${max} in any 1 s window`,
  );
  expect(max).toBeLessThanOrEqual(limits.burst);
  // A lease holds its slots until its last answer plus the window, yet the workers still use the burst rate. A rate
  // is about time, so this bound stays, with room: 6.0/s (all of the burst) was measured idle, and a third of the
  // burst gives a loaded machine three times that margin.
  expect(perSecond).toBeGreaterThanOrEqual(limits.burst / 3);
  // Every worker got a share.
  expect(runs.every((r) => r.length > 0)).toBe(true);
}, 30_000);

/**
 * On a budget of a burst of 2: `a` is granted both slots and is done with them; `b` asks and is refused until the
 * window is over. Returns when it is: `b` was told to ask again now, and `ask` asks on behalf of either.
 */
async function afterRefusal(budget: string) {
  const limits = { burst: 2, steady: 1000 };
  const [a, b] = [worker().store, worker().store];
  const ask = (who: 'a' | 'b') => (who === 'a' ? a : b).lease(budget, limits, 2, 1_000, who);
  const first = await ask('a');
  if (!('lease' in first)) throw new Error('the first ask is granted');
  await a.release(first.lease.id, 2);
  const refused = await ask('b');
  if (!('retryInMs' in refused)) throw new Error('the burst is spent');
  expect(refused.retryInMs).toBeGreaterThan(500);
  await sleep(refused.retryInMs + 50);
  return ask;
}

test('freed slots go to the asker refused first, not to one asking later', async () => {
  const ask = await afterRefusal('acct-queue|2/1000');
  // The window is over; a asks first, but b was refused before it: the slots are b's.
  expect(await ask('a')).toEqual({ retryInMs: expect.any(Number) });
  expect(await ask('b')).toEqual({ lease: expect.objectContaining({ count: 2 }) });
});

test('an asker that does not come back loses its place about a second after it was told to ask again', async () => {
  const ask = await afterRefusal('acct-gone|2/1000');
  // b does not ask again: its place still stands just after the window, and has lapsed a second after.
  expect(await ask('a')).toEqual({ retryInMs: expect.any(Number) });
  await sleep(1_100);
  expect(await ask('a')).toEqual({ lease: expect.objectContaining({ count: 2 }) });
});

test('the steady limit holds across workers: once spent, nobody is granted more', async () => {
  const limits = { burst: 50, steady: 24 };
  const until = Date.now() + 2_500;
  const runs = await Promise.all(
    [worker(), worker(), worker()].map((w) => sendLoop(w.budgets, 'acct-steady', limits, until, 1)),
  );
  expect(runs.flat().length).toBe(limits.steady);
}, 30_000);

test('a worker that dies holding a lease costs the others its slots until the lease expires', async () => {
  const limits = { burst: 10, steady: 10 };
  const dead = worker();
  const budget = 'acct-crash|10/10';
  // The dead worker took every slot and will never release them.
  const taken = await dead.store.lease(budget, limits, 10, 1_000, 'dead');
  expect(taken).toEqual({ lease: expect.objectContaining({ count: 10 }) });
  const survivor = worker().store;
  const refused = await survivor.lease(budget, limits, 1, 1_000, 'survivor');
  // Not released yet: the survivor asks again soon (the release is not known in advance), and is refused again.
  expect(refused).toEqual({ retryInMs: expect.any(Number) });
  await new Promise((r) => setTimeout(r, 1_200));
  // Expired now, but expiry counts as the release: its window (60 s) still holds the slots.
  const afterExpiry = await survivor.lease(budget, limits, 1, 1_000, 'survivor');
  expect(afterExpiry).toEqual({ retryInMs: expect.any(Number) });
  expect((afterExpiry as { retryInMs: number }).retryInMs).toBeGreaterThan(55_000);
});

test('a 429 pause on one worker stops the others', async () => {
  const limits = { burst: 10, steady: 1000 };
  const [a, b] = [worker(), worker()];
  a.budgets.tier('acct-pause', limits).pauseUntil(Date.now() + 1_500);
  await new Promise((r) => setTimeout(r, 200));
  const asked = Date.now();
  const permit = await b.budgets.tier('acct-pause', limits).acquire();
  permit.release();
  expect(Date.now() - asked).toBeGreaterThanOrEqual(1_000);
});

test('unused slots are given back: a lease released after one request counts one', async () => {
  const limits = { burst: 5, steady: 5 };
  const w = worker();
  const tier = w.budgets.tier('acct-unused', limits);
  (await tier.acquire()).release();
  // The lease of 5 closes at its use-by (1 s) with one used; the other four are free for anyone again.
  await new Promise((r) => setTimeout(r, 1_300));
  const other = await worker().store.lease('acct-unused|5/5', limits, 5, 1_000, 'other');
  expect(other).toEqual({ lease: expect.objectContaining({ count: 4 }) });
});
