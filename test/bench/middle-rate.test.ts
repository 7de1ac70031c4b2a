import { middleRate } from '../../bench/latency-run';

/** Answers of `bytes` each, one every `everyMs` from `fromMs`. */
const answers = (count: number, fromMs: number, everyMs: number, bytes = 1_000) =>
  Array.from({ length: count }, (_, i) => ({ end: fromMs + i * everyMs, bytes }));

test("a steady read's middle goes at its pace", () => {
  // 100 pages of 1,000 rows, one every 100 ms: 10,000 rows/s.
  expect(middleRate(100_000, answers(100, 0, 100))).toBeCloseTo(10_000, -2);
});

test("a read's slow start and thin tail are left out of its middle, and its rows are shared by bytes", () => {
  const probe = { end: 0, bytes: 10 };
  const steady = answers(80, 3_000, 100);
  const tail = answers(20, 11_000, 250);
  const rows = 100_000;
  const all = [...tail, probe, ...steady];
  const middle = middleRate(rows, all) as number;
  // A tenth of the bytes is in with the 10th full page (3,900 ms), nine tenths with the 90th (the tail's 10th, 13,250 ms).
  expect(middle).toBeCloseTo((0.8 * rows) / 9.35, 0);
  // The whole read, probe to last answer, went at 100,000 rows in 15.75 s.
  expect(middle).toBeGreaterThan(rows / 15.75);
});

test('a read of one answer has no middle', () => {
  expect(middleRate(1_000, answers(1, 0, 100))).toBeNull();
  expect(middleRate(0, [])).toBeNull();
});
