import { Client as PgClient } from 'pg';
import { CATALOG, slowTierFields } from '../../klaviyo/catalog';
import { REPORT_TABLES } from '../../klaviyo/report-catalog';
import { queryRows } from '../support/database';
import { startTestEngine, type TestEngine } from '../support/engine';

/**
 * Create → run → entities → run again under a concurrent reader → rollback → remove, against a real
 * Temporal dev server, a real Postgres and the sandbox over HTTP.
 */
let engine: TestEngine;
const NAME = 'LifecycleDemo';

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { sizes: { profiles: 400, events: 3000, lists: 4, segments: 3, campaigns: 6, flows: 3, tags: 4 } },
  });
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

const query = <T>(sql: string, values: unknown[] = []) => queryRows<T>(engine.database.url, sql, values);

test('a created dataflow selects every list table the key can read, all fields but the slow-tier ones', async () => {
  const created = await engine.api.create({
    name: NAME,
    displayName: 'Lifecycle demo',
    description: 'the whole product once',
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
  });
  expect(created.tablesCount).toBe(CATALOG.length);
  const tables = await engine.api.tables(NAME);
  const slow = (name: string) => slowTierFields(CATALOG.find((t) => t.name === name)!).length;
  const lists = tables.filter((t) => CATALOG.some((c) => c.name === t.name));
  expect(lists).toHaveLength(CATALOG.length);
  expect(lists.filter((t) => !t.selected || t.fieldsSelected !== t.fieldsTotal - slow(t.name))).toEqual([]);
  // The Reporting API's tables spend Klaviyo's daily quota of 225 requests: offered, readable, selected only by name.
  const reports = tables.filter((t) => !CATALOG.some((c) => c.name === t.name));
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  expect(reports.map((t) => ({ name: t.name, readable: t.readable, selected: t.selected })).sort(byName)).toEqual(
    REPORT_TABLES.map((t) => ({ name: t.name, readable: true, selected: false })).sort(byName),
  );
});

/** Rows of the live version of a table, counted in Postgres through its reader view. */
async function storedRows(table: string): Promise<number> {
  const { rows } = await engine.api.pool.query<{ n: string }>(`SELECT count(*) AS n FROM lifecycledemo.${table}`);
  return Number(rows[0].n);
}

test('a run imports every table with exactly the sandbox row count', async () => {
  const started = await engine.api.run(NAME);
  const result = await engine.api.waitForRun(started);
  expect(result.version).toBe(1);
  const entities = await engine.api.entities(NAME);
  expect(entities).toHaveLength(CATALOG.length);
  for (const table of CATALOG) {
    const entity = entities.find((e) => e.table === table.name);
    // Counted in Postgres, not taken from the engine's report; the report must agree with the count.
    const stored = await storedRows(table.name);
    expect({ table: table.name, rows: stored, reported: entity?.rows, version: entity?.version }).toEqual({
      table: table.name,
      rows: engine.sandbox.expectedCount(table.name),
      reported: stored,
      version: 1,
    });
  }
}, 180_000);

test('a second run commits version 2 while a concurrent reader never sees a mix of versions', async () => {
  const tables = CATALOG.map((t) => t.name);
  // One statement across every view: what a reader gets from one query is one version.
  const sql = `SELECT ${tables
    .map((t) => `(SELECT coalesce(min(_version), 0) || '-' || coalesce(max(_version), 0) FROM lifecycledemo.${t})`)
    .join(" || ',' || ")} AS versions`;
  const reader = new PgClient({ connectionString: engine.database.url });
  await reader.connect();
  const seen = new Set<string>();
  let reading = true;
  const loop = (async () => {
    while (reading) {
      const { rows } = await reader.query<{ versions: string }>(sql);
      const versions = new Set(
        rows[0].versions
          .split(',')
          .flatMap((pair) => pair.split('-'))
          .filter((v) => v !== '0'),
      );
      seen.add([...versions].sort().join('+'));
    }
  })();
  try {
    const result = await engine.api.waitForRun(await engine.api.run(NAME));
    expect(result.version).toBe(2);
  } finally {
    reading = false;
    await loop;
    await reader.end();
  }
  expect([...seen].every((s) => s === '1' || s === '2')).toBe(true);
  expect(seen.has('2')).toBe(true);
}, 180_000);

test('rollback brings version 1 back to every table', async () => {
  const rolled = await engine.api.rollback(NAME);
  expect(rolled).toMatchObject({ fromVersion: 2, toVersion: 1 });
  const entities = await engine.api.entities(NAME);
  expect(new Set(entities.map((e) => e.version))).toEqual(new Set([1]));
  expect(await storedRows('profiles')).toBe(engine.sandbox.expectedCount('profiles'));
  expect(entities.find((e) => e.table === 'profiles')?.rows).toBe(await storedRows('profiles'));
});

test('history lists every run and the rollback, newest first, with rows per table', async () => {
  const history = await engine.api.history(NAME);
  expect(history.map((r) => `${r.operation}:${r.status}`)).toEqual([
    'rollback:COMPLETED',
    'run:COMPLETED',
    'run:COMPLETED',
  ]);
  const firstRun = history[2];
  expect(firstRun.trigger).toBe('manual');
  expect(firstRun.version).toBe(1);
  // Version 1 is live again after the rollback: its events counted in Postgres are what the history must say.
  expect(await storedRows('events')).toBe(engine.sandbox.expectedCount('events'));
  expect(firstRun.tables.find((t) => t.table === 'events')?.rows).toBe(await storedRows('events'));
});

test('remove leaves no schema, no table, no schedule and no control-plane row', async () => {
  await engine.api.schedule(NAME, { every: '1h' });
  const removed = await engine.api.remove(NAME);
  expect(removed.droppedTables).toBeGreaterThan(0);
  expect(await query(`SELECT 1 FROM pg_namespace WHERE nspname = 'lifecycledemo'`)).toHaveLength(0);
  expect(await query(`SELECT 1 FROM pg_tables WHERE schemaname = 'lifecycledemo'`)).toHaveLength(0);
  expect(await query(`SELECT 1 FROM dataflow_control.dataflows WHERE lower(name) = 'lifecycledemo'`)).toHaveLength(0);
  const schedules: string[] = [];
  for await (const s of (await engine.temporal.client()).schedule.list()) schedules.push(s.scheduleId);
  expect(schedules).toEqual([]);
});
