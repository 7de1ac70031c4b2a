import { createDataflows, engineQuery, versionDifferences } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import type { RunResult } from '../../shared/operations';
import { getTable } from '../../klaviyo/catalog';

/**
 * Incremental refresh against the sandbox: after 1% of profiles change and 1% events arrive (some
 * back-dated), a refresh asks only for what changed and builds a version equal, row for row, to a
 * forced full refresh of the same account state.
 */
let engine: TestEngine;
const NAME = 'IncrementalDemo';
const SCHEMA = 'incrementaldemo';
const PROFILES = 20_000;
const EVENTS = 100_000;
// profiles and events are Data; metrics has no change cursor (always re-read), lists has one.
const TABLES = ['profiles', 'events', 'metrics', 'lists'];
/**
 * A run's requests that do not scale with the data: the key and scope checks, and the last (partial)
 * page of each table.
 */
const CONSTANT_REQUESTS = 10;

let fullRun: { result: RunResult; requests: number };
let incrementalRun: { result: RunResult; requests: number };

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { sizes: { profiles: PROFILES, events: EVENTS, lists: 12, metrics: 12 } },
  });
  await createDataflows(engine, [NAME], TABLES);
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

const query = engineQuery(() => engine);

/** Runs the dataflow and counts the requests the sandbox answered meanwhile. */
async function measuredRun(full = false): Promise<{ result: RunResult; requests: number }> {
  engine.sandbox.resetRequestLog();
  const result = await engine.api.waitForRun(await engine.api.run(NAME, { full }));
  const requests = Object.values(engine.sandbox.requestCounts()).reduce((sum, n) => sum + n, 0);
  return { result, requests };
}

/** Rows of the live version of a table, counted in Postgres through its reader view. */
async function storedRows(table: string): Promise<number> {
  const { rows } = await engine.api.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.${table}`);
  return Number(rows[0].n);
}

test('the first run reads every table in full', async () => {
  fullRun = await measuredRun();
  expect(fullRun.result.version).toBe(1);
  expect(fullRun.result.tables.filter((t) => t.incremental)).toEqual([]);
  // Counted in Postgres, not taken from the engine's report.
  expect(await storedRows('profiles')).toBe(PROFILES);
  expect(await storedRows('events')).toBe(EVENTS);
}, 300_000);

test('after 1% changes, a refresh makes at most 2% of a full run’s requests plus a small constant', async () => {
  engine.sandbox.advance({
    changeProfiles: PROFILES / 100,
    addEvents: (EVENTS / 100) * 0.8,
    backdatedEvents: (EVENTS / 100) * 0.2,
    backdateWindowHours: 48,
  });
  incrementalRun = await measuredRun();
  console.log(
    `requests: full run ${fullRun.requests}, incremental run ${incrementalRun.requests} ` +
      `(budget ${Math.floor(fullRun.requests * 0.02)} + ${CONSTANT_REQUESTS}); ` +
      `rows read: ${incrementalRun.result.tables.map((t) => `${t.table} ${t.incremental?.rowsRead ?? `${t.rows} (full)`}`).join(', ')}`,
  );
  expect(incrementalRun.result.version).toBe(2);
  expect(incrementalRun.requests).toBeLessThanOrEqual(fullRun.requests * 0.02 + CONSTANT_REQUESTS);
}, 300_000);

test('tables with a change cursor are refreshed incrementally from the committed version, the others in full', () => {
  const modes = Object.fromEntries(
    incrementalRun.result.tables.map((t) => [t.table, t.incremental ? `from v${t.incremental.fromVersion}` : 'full']),
  );
  expect(modes).toEqual({ profiles: 'from v1', events: 'from v1', metrics: 'full', lists: 'from v1' });
});

test('the incremental version holds every row the account now has', async () => {
  expect(await storedRows('profiles')).toBe(engine.sandbox.expectedCount('profiles'));
  expect(await storedRows('events')).toBe(engine.sandbox.expectedCount('events'));
  expect(await storedRows('events')).toBe(EVENTS + EVENTS / 100);
});

test('a forced full refresh reads everything again and equals the incremental version row for row', async () => {
  const forced = await measuredRun(true);
  expect(forced.result.version).toBe(3);
  expect(forced.result.tables.filter((t) => t.incremental)).toEqual([]);
  // Every page of every table asked for again. (Not "as many requests as the first run": a sliced read splits where
  // its pages happen to arrive, so two full reads differ by a few requests.) An unpaged table is one page.
  const pagesOf = (t: { table: string; rows: number }) =>
    Math.max(1, Math.ceil(t.rows / (getTable(t.table).pageSize?.max ?? Infinity)));
  for (const table of forced.result.tables) expect(table.pages).toBeGreaterThanOrEqual(pagesOf(table));
  const pagesNeeded = forced.result.tables.reduce((n, t) => n + pagesOf(t), 0);
  expect(forced.requests).toBeGreaterThanOrEqual(pagesNeeded);
  const diffs = Object.fromEntries(
    await Promise.all(TABLES.map(async (t) => [t, await versionDifferences(query, SCHEMA, t, 2, 3)])),
  );
  expect(diffs).toEqual({ profiles: 0, events: 0, metrics: 0, lists: 0 });
}, 300_000);

test('every table of every version has its primary key, whether built after a full load or there from the start', async () => {
  // Full loads build the key once loaded (v1, v3); incremental tables have it from the start (v2).
  const keyed = await query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = '${SCHEMA}' AND c.relkind = 'r'
       AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
     ORDER BY 1`,
  );
  const expected = TABLES.flatMap((t) => [1, 2, 3].map((v) => `${t}__v${v}`)).sort();
  expect(keyed.map((r) => r.name)).toEqual(expected);
});

test('changed profiles carry their new values in the incremental version', async () => {
  // The sandbox's changes all fall after its start clock; version 1 holds none of them.
  const [{ changed }] = await query<{ changed: string }>(
    `SELECT count(*) AS changed FROM ${SCHEMA}.profiles__v2 WHERE updated > '2026-01-01T00:00:00Z'`,
  );
  expect(Number(changed)).toBe(PROFILES / 100);
});

test('a refresh after the selected fields changed reads the table in full and says why', async () => {
  await engine.api.edit(NAME, { excludeFields: ['lists.opt_in_process'] });
  const { result } = await measuredRun();
  expect(result.tables.find((t) => t.table === 'lists')?.incremental).toBeUndefined();
  expect(result.tables.find((t) => t.table === 'events')?.incremental?.fromVersion).toBe(3);
  expect(result.notices).toContain('lists: read in full, because its selected fields changed since version 3');
}, 300_000);
