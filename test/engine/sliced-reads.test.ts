import { createDataflows, engineQuery } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import { sliceFilters, splitRemainder } from '../../activities/slices';
import { getTable } from '../../klaviyo/catalog';

/**
 * Sliced reads against the sandbox with real limits and 60 ms answers: 60,000 events, 56,000 of them within three
 * hours (about five share each second, so every slice edge cuts a second that has rows on both sides of a page
 * edge), read as several time ranges at once; the table must equal the sandbox id for id. Some 60 pages: the slice
 * target waits for eight samples of the network's wait (a page asked for during a write gives none) before it splits,
 * and 20 pages left too few after that on a loaded machine (one CI run saw a single split).
 */
let engine: TestEngine;
const NAME = 'SlicedDemo';
const SCHEMA = 'sliceddemo';

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { sizes: { profiles: 3_000, events: 4_000 }, rateLimits: { enabled: true, scale: 1 } },
  });
  engine.sandbox.advance({ addEvents: 56_000, hours: 3 });
  engine.sandbox.setLatency({ baseMs: 60 });
  await createDataflows(engine, [NAME], ['events', 'profiles']);
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

const query = engineQuery(() => engine);

async function expectedIds(table: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of engine.sandbox.expectedIds(table)) ids.push(id);
  return ids.sort();
}

test('slice ranges are half-open in whole seconds, with the operators each endpoint offers', () => {
  const start = Date.parse('2026-01-01T00:00:10Z') / 1000;
  // events: greater-or-equal and less-than.
  expect(sliceFilters(getTable('events'), { start, end: start + 5 })).toEqual([
    'greater-or-equal(datetime,2026-01-01T00:00:10Z)',
    'less-than(datetime,2026-01-01T00:00:15Z)',
  ]);
  // profiles offer only greater-than: a second earlier is the same bound for whole-second values.
  expect(sliceFilters(getTable('profiles'), { start, end: null })).toEqual([
    'greater-than(created,2026-01-01T00:00:09Z)',
  ]);
  // The rest of a slice from the cut second on, in pieces that meet exactly; the open end stays open.
  expect(splitRemainder({ start: 0, end: null }, 100, 3, 130)).toEqual([
    { start: 100, end: 110 },
    { start: 110, end: 120 },
    { start: 120, end: null },
  ]);
  expect(splitRemainder({ start: 0, end: 101 }, 100, 4, 0)).toEqual([]);
});

test('a sliced read loses and duplicates nothing, including rows sharing the second a slice was cut at', async () => {
  engine.sandbox.resetRequestLog();
  const result = await engine.api.waitForRun(await engine.api.run(NAME));
  expect(result.version).toBe(1);

  for (const table of ['events', 'profiles']) {
    const stored = (await query<{ id: string }>(`SELECT id FROM ${SCHEMA}.${table} ORDER BY id`)).map((r) => r.id);
    expect(stored.length).toBe(new Set(stored).size);
    expect(stored).toEqual(await expectedIds(table));
  }

  // The read was sliced: several ranges of events were asked for, each its own cursor chain.
  const log = engine.sandbox.requestLog().filter((e) => e.table === 'events' && e.status === 200);
  const starts = new Set<string>();
  for (const entry of log) {
    const filter = new URLSearchParams(entry.query).get('filter') ?? '';
    const match = /greater-or-equal\(datetime,([^)]+)\)/.exec(filter);
    if (match) starts.add(match[1]);
  }
  expect(starts.size).toBeGreaterThanOrEqual(3);
  // At least one cut fell on a second with several events (in practice most do): the edge case was exercised.
  const shared = await query<{ n: string }>(
    `SELECT count(*) AS n FROM ${SCHEMA}.events WHERE datetime = ANY ($1::timestamptz[]) GROUP BY datetime
     HAVING count(*) > 1`,
    [[...starts]],
  );
  expect(shared.length).toBeGreaterThan(0);
  // No 429 for the sliced tables with real limits on (all of them share the worker's budget).
  const throttled = engine.sandbox.requestLog().filter((e) => e.status === 429 && e.table !== 'accounts');
  expect(throttled).toEqual([]);
}, 180_000);

test('five dataflows of one account, three tables of one tier each, run at once with real limits: no 429', async () => {
  // Created with the limits off (the API's key checks are not what is measured); turning them on forgets the windows.
  engine.sandbox.setRateLimits({ enabled: false });
  const names = ['SharedTier1', 'SharedTier2', 'SharedTier3', 'SharedTier4', 'SharedTier5'];
  // profiles and templates (sliced) and lists: all in the L tier.
  const tables = ['profiles', 'templates', 'lists'];
  await createDataflows(engine, names, tables);
  engine.sandbox.setRateLimits({ enabled: true, scale: 1 });
  engine.sandbox.resetRequestLog();
  const runs = await Promise.all(names.map((name) => engine.api.run(name)));
  const results = await Promise.all(runs.map((run) => engine.api.waitForRun(run)));
  for (const result of results) {
    for (const table of tables) {
      const summary = result.tables.find((t) => t.table === table);
      expect(summary?.rows).toBe(engine.sandbox.expectedCount(table));
    }
  }
  const log = engine.sandbox.requestLog();
  expect(log.filter((e) => e.status === 429)).toEqual([]);
}, 180_000);
