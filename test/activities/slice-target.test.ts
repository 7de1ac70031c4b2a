import {
  CLIMB,
  climb,
  lowWait,
  memoryCap,
  sliceBytes,
  sliceFloor,
  sliceTarget,
  startClimb,
  stepUp,
  type ClimbState,
} from '../../activities/slices';

/** How many slices a sliced read runs (activities/slices.ts): a floor from the network, a climb, a memory cap. */

test('the floor is the tier share times the low wait, plus one', () => {
  // XL: 3,500 a minute; 300 ms waits; alone in its tier.
  expect(sliceFloor({ requestsPerSecond: 3500 / 60, share: 1, waitSeconds: 0.3 })).toBe(19);
  // Two reads of the tier split it.
  expect(sliceFloor({ requestsPerSecond: 3500 / 60, share: 2, waitSeconds: 0.3 })).toBe(10);
  // Read-ahead hid the wait (a CPU-bound read): one slice, and one to grow on.
  expect(sliceFloor({ requestsPerSecond: 3500 / 60, share: 1, waitSeconds: 0 })).toBe(1);
});

test('the low wait is the 5th percentile, so stalls, jitter and a server slowed by a busy CPU do not raise the floor', () => {
  expect(lowWait([])).toBeUndefined();
  // One is enough: a full read splits at its first page.
  expect(lowWait([0.5])).toBe(0.5);
  expect(lowWait([0.5, 0.3], 3)).toBeUndefined();
  expect(lowWait([2, 0.3])).toBe(0.3);
  // Round trips of 300 ms with jitter and stalls: about the shortest.
  const network = [
    0.3, 0.31, 0.29, 0.32, 0.28, 2.5, 3, 0.3, 0.33, 4, 0.35, 0.4, 0.3, 0.31, 0.3, 0.36, 0.3, 0.3, 0.29, 0.3,
  ];
  expect(lowWait(network)).toBeCloseTo(0.28);
  // A busy server: mostly slow, sometimes quick (read-ahead hid the wait).
  const busy = [0.6, 0.9, 0, 0.7, 1.2, 0.8, 0.02, 0.9, 1, 0.6, 0.7, 0.8, 0.5, 0.9, 1.1, 0.6, 0.7, 0.9, 0.8, 0.75];
  expect(lowWait(busy)).toBe(0);
});

test('memory is shared by every read of the process: what others leave, never less than an even share', () => {
  const MB = 1024 * 1024;
  // Alone: the whole budget.
  expect(memoryCap({ budgetBytes: 48 * MB, othersBytes: 0, reads: 1, bytesPerSlice: 4 * MB })).toBe(12);
  // Another read holds 40 MB: this one still gets its even share, 24 MB.
  expect(memoryCap({ budgetBytes: 48 * MB, othersBytes: 40 * MB, reads: 2, bytesPerSlice: 4 * MB })).toBe(6);
  // Another holds little: this one may take the rest.
  expect(memoryCap({ budgetBytes: 48 * MB, othersBytes: 4 * MB, reads: 2, bytesPerSlice: 4 * MB })).toBe(11);
  // Pages larger than the budget: still one slice.
  expect(memoryCap({ budgetBytes: 1 * MB, othersBytes: 0, reads: 1, bytesPerSlice: 4 * MB })).toBe(1);
});

test('a slice holds what its pages measure: a network-bound chain its page and batch, a CPU-bound one as before', () => {
  const MB = 1024 * 1024;
  // Network-bound (the chain waited for the page): the page in hand and a batch of two pages' COPY text.
  expect(sliceBytes({ bytes: 1 * MB, encodedBytes: 0.5 * MB, ready: false }, 2)).toBe(2 * MB);
  // CPU-bound (the page was in already): eight raw pages.
  expect(sliceBytes({ bytes: 1 * MB, encodedBytes: 0.5 * MB, ready: true }, 2)).toBe(8 * MB);
  // Within an 80 MB budget, 1 MB pages: 40 network-bound slices, where 8 assumed pages a slice allowed 10.
  expect(memoryCap({ budgetBytes: 80 * MB, othersBytes: 0, reads: 1, bytesPerSlice: 2 * MB })).toBe(40);
});

test('the target is the climb, never below the floor, never above memory or the maximum', () => {
  expect(sliceTarget({ floor: 8, climbed: 2, memory: 20, max: 32 })).toBe(8);
  expect(sliceTarget({ floor: 2, climbed: 12, memory: 20, max: 32 })).toBe(12);
  expect(sliceTarget({ floor: 30, climbed: 2, memory: 6, max: 32 })).toBe(6);
  expect(sliceTarget({ floor: 30, climbed: 2, memory: 60, max: 16 })).toBe(16);
  expect(sliceTarget({ floor: 0, climbed: 0, memory: 0, max: 1 })).toBe(1);
});

/** Drives the climber with a read whose rate at n slices is `rateAt(n)`, running what it allows; the caps it chose. */
function drive(rateAt: (n: number) => number, windows: number, floor = 1): number[] {
  let state: ClimbState = startClimb();
  let now = 0;
  let rows = 0;
  let pages = 0;
  const caps: number[] = [];
  for (let i = 0; i < windows; i++) {
    const running = Math.max(floor, state.cap);
    // A window of 2 s and 4 pages per slice, the count of slices steady throughout.
    state = climb(state, { now, rows, pages, running, target: running });
    now += 2;
    rows += rateAt(running) * 2;
    pages += 4 * running;
    state = climb(state, { now, rows, pages, running, target: running });
    caps.push(state.cap);
  }
  return caps;
}

test('a network-bound read climbs while each step raises its rate, up to where the rate stops rising', () => {
  // Each slice adds 1,000 rows/s up to 12 slices (the tier's ceiling), then nothing.
  const caps = drive((n) => 1000 * Math.min(n, 12), 12);
  expect(caps.slice(0, 5)).toEqual([2, 3, 5, 8, 12]);
  // 12 → 18 did not pay: back to 12, held there.
  expect(caps[5]).toBe(18);
  expect(caps[6]).toBe(12);
  expect(caps.slice(7, 10)).toEqual([12, 12, 12]);
});

test('a CPU-bound read stops at the count where a slice more no longer helps, and probes again only after a hold', () => {
  // Two slices overlap the writes with the reads; more only add memory.
  const caps = drive((n) => (n >= 2 ? 20_000 : 14_000), 20);
  expect(caps[0]).toBe(2);
  expect(caps[1]).toBe(3);
  expect(caps[2]).toBe(2);
  // It held for CLIMB.holdWindows windows, probed 3 again once, and came back.
  expect(Math.max(...caps.slice(2))).toBe(3);
  expect(caps.filter((c) => c === 3).length).toBeLessThanOrEqual(1 + Math.ceil(18 / (CLIMB.holdWindows + 2)));
  expect(caps.at(-1)).toBeLessThanOrEqual(3);
});

test('a climber below its floor measures at the floor, and a window with fewer slices than the target decides nothing', () => {
  const caps = drive((n) => 1000 * Math.min(n, 10), 6, 8);
  // Nothing measured below the floor (8), so it tries 12; 12 beats 8 by more than 15% (10,000 vs 8,000 rows/s), so
  // it tries 18; 18 does not beat 12, so it comes back to 12.
  expect(caps.slice(0, 3)).toEqual([12, 18, 12]);
  let state = startClimb();
  state = climb(state, { now: 0, rows: 0, pages: 0, running: 2, target: 5 });
  state = climb(state, { now: 10, rows: 50_000, pages: 50, running: 2, target: 5 });
  expect(state.cap).toBe(1);
  expect(state.rates[2]).toBe(5000);
});

test('the steps grow by half', () => {
  expect([1, 2, 3, 5, 8, 12].map(stepUp)).toEqual([2, 3, 5, 8, 12, 18]);
});

test('a window lasts a few round trips: a second at least, and three pages per running slice', () => {
  let state = startClimb();
  state = climb(state, { now: 0, rows: 0, pages: 0, running: 4, target: 4 });
  // 1.5 s but only 8 pages of the 12 four slices need (slow answers): still measuring.
  state = climb(state, { now: 1.5, rows: 8_000, pages: 8, running: 4, target: 4 });
  expect(state.rates).toEqual({});
  // 12 pages in 0.5 s (fast answers): a second is not up yet.
  state = startClimb();
  state = climb(state, { now: 0, rows: 0, pages: 0, running: 4, target: 4 });
  state = climb(state, { now: 0.5, rows: 12_000, pages: 12, running: 4, target: 4 });
  expect(state.rates).toEqual({});
  state = climb(state, { now: 1, rows: 24_000, pages: 24, running: 4, target: 4 });
  expect(state.rates).toEqual({ 4: 24_000 });
  expect(state.cap).toBe(stepUp(4));
  // A change in the count of running slices starts a new window.
  state = climb(state, { now: 1.2, rows: 25_000, pages: 25, running: 5, target: 6 });
  expect(state.window).toEqual({ running: 5, since: 1.2, rows: 25_000, pages: 25 });
});
