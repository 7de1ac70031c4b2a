import { renderRunResult } from '../../client/cli-output';
import type { RunResult, TableSummary } from '../../shared/operations';
import { createDataflows, engineQuery } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import { collect, readAll } from '../sandbox/http-helpers';

/**
 * Three ways the warehouse could drift from Klaviyo, closed: an event dated in the future must not push the
 * incremental watermark past real events; rows deleted in Klaviyo leave the next version (a deletion sweep); archived
 * campaigns and flows, which Klaviyo lists only when asked, are imported with `archived = true`. Every count is taken
 * in Postgres and compared with the sandbox.
 */
let engine: TestEngine;
const NAME = 'DriftDemo';
const SCHEMA = 'driftdemo';
const PROFILES = 3_000;
const TABLES = ['profiles', 'events', 'lists', 'campaigns', 'flows'];

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { sizes: { profiles: PROFILES, events: 20_000, lists: 12, segments: 3, campaigns: 60, flows: 30 } },
  });
  await createDataflows(engine, [NAME], TABLES);
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

const query = engineQuery(() => engine);

/** Rows the readers' view of a table shows now. */
async function count(table: string, where = 'true'): Promise<number> {
  const [row] = await query<{ count: string }>(`SELECT count(*) AS count FROM ${SCHEMA}.${table} WHERE ${where}`);
  return Number(row.count);
}

async function ids(table: string): Promise<Set<string>> {
  return new Set((await query<{ id: string }>(`SELECT id FROM ${SCHEMA}.${table}`)).map((r) => r.id));
}

async function run(): Promise<RunResult> {
  return engine.api.waitForRun(await engine.api.run(NAME));
}

function summary(result: RunResult, table: string): TableSummary {
  const found = result.tables.find((t) => t.table === table);
  if (!found) throw new Error(`no summary for ${table}`);
  return found;
}

async function admin(path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${engine.sandbox.baseUrl}/__sandbox/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Archived rows as Klaviyo (the sandbox) lists them when asked with equals(archived,true). */
async function archivedInSandbox(table: 'campaigns' | 'flows'): Promise<number> {
  const filter = (f: string) => `?filter=${encodeURIComponent(f)}`;
  if (table === 'flows')
    return (await readAll(engine.sandbox, `/api/flows${filter('equals(archived,true)')}`)).rows.length;
  let total = 0;
  for (const channel of ['email', 'sms', 'mobile_push']) {
    const path = `/api/campaigns${filter(`and(equals(messages.channel,'${channel}'),equals(archived,true))`)}`;
    total += (await readAll(engine.sandbox, path)).rows.length;
  }
  return total;
}

test('archived campaigns and flows are imported with archived = true, beside the others', async () => {
  const result = await run();
  expect(result.version).toBe(1);
  for (const table of ['campaigns', 'flows'] as const) {
    const archived = await archivedInSandbox(table);
    expect(archived).toBeGreaterThan(0);
    expect({ table, rows: await count(table), archived: await count(table, 'archived') }).toEqual({
      table,
      rows: engine.sandbox.expectedCount(table),
      archived,
    });
    expect(await count(table, 'NOT archived')).toBe(engine.sandbox.expectedCount(table) - archived);
  }
  for (const table of ['profiles', 'events', 'lists'])
    expect(await count(table)).toBe(engine.sandbox.expectedCount(table));
}, 300_000);

test('an event dated a month ahead does not hide the real events that arrive after it', async () => {
  const before = new Set(await collect(engine.sandbox.expectedIds('events')));
  engine.sandbox.advance({ addEvents: 50, futureEvents: 1, futureHours: 30 * 24 });
  const second = await run();
  expect(summary(second, 'events').incremental?.fromVersion).toBe(1);
  const future = (await collect(engine.sandbox.expectedIds('events'))).filter((id) => !before.has(id));
  expect(future).toHaveLength(51);
  expect(await count('events')).toBe(engine.sandbox.expectedCount('events'));
  const [{ latest }] = await query<{ latest: Date }>(`SELECT max(datetime) AS latest FROM ${SCHEMA}.events`);
  expect(latest.getTime()).toBe(Date.parse(engine.sandbox.clock()) + 30 * 24 * 3_600_000);

  // The next hour's events are dated before the future one: a watermark at max(datetime) would skip them all.
  const seen = new Set(await collect(engine.sandbox.expectedIds('events')));
  engine.sandbox.advance({ addEvents: 40 });
  const fresh = (await collect(engine.sandbox.expectedIds('events'))).filter((id) => !seen.has(id));
  expect(fresh).toHaveLength(40);
  const third = await run();
  expect(summary(third, 'events').incremental?.fromVersion).toBe(2);
  expect(third.notices.some((n) => n.startsWith('events: rows dated after version 2 was read'))).toBe(true);
  const loaded = await ids('events');
  expect(fresh.filter((id) => !loaded.has(id))).toEqual([]);
  // The future-dated event is kept, and the version holds exactly what the account has.
  expect(await count('events', `datetime = '${latest.toISOString()}'`)).toBe(1);
  expect(await count('events')).toBe(engine.sandbox.expectedCount('events'));
}, 300_000);

test('deleted lists and campaigns leave the next version, counted per table; big tables wait for their cadence', async () => {
  const profiles = (await collect(engine.sandbox.expectedIds('profiles'))).slice(100, 105);
  const lists = (await collect(engine.sandbox.expectedIds('lists'))).slice(0, 2);
  const campaigns = (await collect(engine.sandbox.expectedIds('campaigns'))).slice(0, 3);
  await admin('delete', { table: 'profiles', ids: profiles });
  await admin('delete', { table: 'lists', ids: lists });
  await admin('delete', { table: 'campaigns', ids: campaigns });
  const before = { lists: await count('lists'), campaigns: await count('campaigns') };
  engine.sandbox.resetRequestLog();
  const result = await run();

  // Lists (12 rows, 2 requests) and campaigns (60 rows, 6 passes) are cheap to sweep: every run.
  for (const [table, gone] of [
    ['lists', lists],
    ['campaigns', campaigns],
  ] as const) {
    const left = await ids(table);
    expect({ table, kept: gone.filter((id) => left.has(id)) }).toEqual({ table, kept: [] });
    expect(await count(table)).toBe(engine.sandbox.expectedCount(table));
    expect(summary(result, table).deleted).toBe(before[table] - (await count(table)));
    expect(summary(result, table).deleted).toBe(gone.length);
  }
  // 3,000 profiles take 30 requests to sweep: not cheap, and the daily sweep is not due (v1 read them all).
  expect(summary(result, 'profiles').deleted).toBeUndefined();
  expect(await count('profiles')).toBe(PROFILES);
  const swept = engine.sandbox
    .requestLog()
    .filter((r) => r.table === 'profiles' && decodeURIComponent(r.query).includes('fields[profile]=id'));
  expect(swept).toHaveLength(0);
  // The incremental read of profiles itself was made, with its own fields.
  expect(engine.sandbox.requestLog().some((r) => r.table === 'profiles')).toBe(true);
  expect(renderRunResult(result)).toMatch(/^\s*campaigns\s.*\s3\s*$/m);
}, 300_000);

test('a day after the last complete read, the daily sweep of profiles falls due and deletes them', async () => {
  // The committed version says when profiles were last swept (v1's full read): move that a day back.
  await query(
    `UPDATE dataflow_control.dataflow_versions v SET reads = jsonb_set(reads, '{profiles,sweptAt}', to_jsonb($1::text))
     FROM dataflow_control.dataflows d WHERE d.id = v.dataflow_id AND d.name = $2 AND v.version = d.current_version`,
    [new Date(Date.now() - 25 * 3_600_000).toISOString(), NAME],
  );
  const result = await run();
  expect(await count('profiles')).toBe(engine.sandbox.expectedCount('profiles'));
  expect(await count('profiles')).toBe(PROFILES - 5);
  expect(summary(result, 'profiles').deleted).toBe(5);
  // Swept now: the next refresh does not sweep profiles again.
  await admin('delete', {
    table: 'profiles',
    ids: (await collect(engine.sandbox.expectedIds('profiles'))).slice(0, 3),
  });
  const next = await run();
  expect(summary(next, 'profiles').deleted).toBeUndefined();
  expect(await count('profiles')).toBe(PROFILES - 5);
}, 300_000);

test('with the sweep set to every run, deleted profiles leave the next version, for one request per 100 ids', async () => {
  const edited = await engine.api.edit(NAME, { deletionSweep: 'every-run' });
  expect(edited.deletionSweep).toBe('every-run');
  engine.sandbox.resetRequestLog();
  const result = await run();
  expect(await count('profiles')).toBe(engine.sandbox.expectedCount('profiles'));
  expect(await count('profiles')).toBe(PROFILES - 8);
  expect(summary(result, 'profiles').deleted).toBe(3);
  const sweep = engine.sandbox
    .requestLog()
    .filter((r) => r.table === 'profiles' && decodeURIComponent(r.query).includes('fields[profile]=id'));
  // 2,992 ids at page[size]=100: 30 pages (100,000 profiles: 1,000).
  expect(sweep).toHaveLength(Math.ceil((PROFILES - 8) / 100));
  console.log(`profiles sweep: ${sweep.length} requests for ${PROFILES - 8} profiles`);
  // Nothing else was deleted since: the sweep of every other table counts none.
  for (const table of ['lists', 'campaigns', 'flows', 'events']) expect(summary(result, table).deleted).toBe(0);
  expect(await count('events')).toBe(engine.sandbox.expectedCount('events'));
}, 300_000);

test('a bad sweep setting is refused in words that list the choices', async () => {
  await expect(engine.api.edit(NAME, { deletionSweep: 'hourly' })).rejects.toThrow(
    /deletion sweep must be one of every-run, daily, weekly, off, not "hourly"/,
  );
});
