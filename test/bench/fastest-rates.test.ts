import { fastestRates, type TableRate } from '../../bench/latency-run';

/** A table's limits-off read at `rowsPerSecond`. */
const read = (table: string, rowsPerSecond: number): TableRate => ({
  table,
  rows: 1_000,
  requests: 10,
  throttled: 0,
  seconds: 1_000 / rowsPerSecond,
  rowsPerSecond,
  requestsPerSecond: 10 / (1_000 / rowsPerSecond),
  middleRowsPerSecond: null,
});

test('the bound is each table’s faster run, whichever run that was', () => {
  const first = { profiles: read('profiles', 1_200), events: read('events', 15_000) };
  const second = { profiles: read('profiles', 1_100), events: read('events', 19_000) };
  expect(fastestRates(first, second)).toEqual({ profiles: first.profiles, events: second.events });
  expect(fastestRates(second, first)).toEqual({ profiles: first.profiles, events: second.events });
});

test('the first run is the bound until there is a second', () => {
  const first = { events: read('events', 15_000) };
  expect(fastestRates({}, first)).toEqual(first);
});
