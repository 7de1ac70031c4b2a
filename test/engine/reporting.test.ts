import { REPORT_TABLES } from '../../klaviyo/report-catalog';
import type { RequestLogEntry } from '../../sandbox/server';
import type { RunResult } from '../../shared/operations';
import { createDataflows, engineQuery, versionDifferences } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import { reportFigureMismatches } from './report-expectations';

/**
 * Klaviyo's Reporting API end to end (real Temporal, Postgres, the sandbox over HTTP, in-process worker): a run
 * imports the seven report tables and every figure equals what the events imported in the same run imply, computed
 * here in SQL without the engine's or the sandbox's report code; a refresh a day later (sandbox clock) asks only for
 * the attribution window and equals a forced full read. The daily quota's waits are in reporting-quota.test.ts.
 */
let engine: TestEngine;
const NAME = 'Reports';
const SCHEMA = 'reports';
const REPORTS = REPORT_TABLES.map((t) => t.name);
/** The raw rows the expected figures are computed from, imported by the same run. */
const RAW = ['events', 'metrics', 'campaigns', 'segment_memberships'];

/**
 * `REPORTING_SIZES=<campaigns>,<flows>` measures other account sizes (e.g. `1000,200`); each run prints the report
 * requests it made per report type.
 */
const [CAMPAIGNS, FLOWS] = (process.env.REPORTING_SIZES ?? '120,8').split(',').map(Number);

let first: RunResult;
let refresh: { result: RunResult; log: RequestLogEntry[] };

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { sizes: { profiles: 300, events: 6000, campaigns: CAMPAIGNS, flows: FLOWS } },
  });
  await createDataflows(engine, [NAME], [...RAW, ...REPORTS]);
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

const query = engineQuery(() => engine);

async function run(full = false): Promise<{ result: RunResult; log: RequestLogEntry[] }> {
  engine.sandbox.resetRequestLog();
  const result = await engine.api.waitForRun(await engine.api.run(NAME, { full }));
  const log = engine.sandbox.requestLog();
  const perType = new Map<string, number>();
  for (const e of reportRequests(log)) perType.set(e.table ?? '', (perType.get(e.table ?? '') ?? 0) + 1);
  console.log(
    `reporting: v${result.version} (${full ? 'forced full' : 'planned'} run, ${CAMPAIGNS} campaigns, ${FLOWS} flows): ` +
      `${reportRequests(log).length} report requests — ${[...perType].map(([t, n]) => `${t} ${n}`).join(', ')}`,
  );
  return { result, log };
}

const reportRequests = (log: readonly RequestLogEntry[]) => log.filter((e) => e.report !== undefined);

test('a run imports the seven report tables, each figure as the imported events imply', async () => {
  const { result, log } = await run();
  first = result;
  expect(result.version).toBe(1);
  const requests = reportRequests(log);
  // Every report request answered (none throttled), each of at most 100 subjects.
  expect(requests.length).toBeGreaterThan(0);
  expect(requests.filter((e) => e.status !== 200)).toEqual([]);
  expect(result.notices.join('\n')).toMatch(/conversions counted on the metric "Placed Order" \(\w+\)/);
  for (const table of REPORTS) {
    const [{ n }] = await query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.${table}`);
    expect({ table, rows: Number(n) }).toEqual({ table, rows: expect.any(Number) });
    expect(Number(n)).toBeGreaterThan(0);
  }
  const mismatches = await reportFigureMismatches(engine.database.url, SCHEMA, engine.sandbox.clock());
  expect(mismatches).toEqual({});
}, 120_000);

test('a refresh a day later asks only for the attribution window, and equals a forced full read', async () => {
  expect(first).toBeDefined();
  engine.sandbox.advance({ hours: 24, addEvents: 300 });
  refresh = await run();
  expect(refresh.result.version).toBe(2);
  const clockDay = new Date(Date.parse(engine.sandbox.clock()) - 5 * 3_600_000).toISOString().slice(0, 10);
  // 5 days of attribution plus a margin of 2: nothing older than 7 days before today is asked by day.
  const oldest = new Date(Date.parse(`${clockDay}T00:00:00Z`) - 7 * 86_400_000).toISOString().slice(0, 10);
  const requests = reportRequests(refresh.log);
  for (const entry of requests.filter((e) => e.report?.interval === 'daily')) {
    const timeframe = entry.report?.timeframe as { start: string };
    expect({ table: entry.table, start: timeframe.start.slice(0, 10) >= oldest }).toEqual({
      table: entry.table,
      start: true,
    });
  }
  // Campaigns: only those sent within the window (up to today: a send still ahead has nothing yet) are asked again.
  const campaignIds = requests
    .filter((e) => e.table === 'campaign-values-report')
    .flatMap((e) => [...(e.report?.filter ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]));
  const recent = await query<{ id: string }>(
    `SELECT id FROM ${SCHEMA}.campaigns WHERE (send_time AT TIME ZONE 'America/New_York')::date BETWEEN $1::date AND $2::date`,
    [oldest, clockDay],
  );
  expect(new Set(campaignIds)).toEqual(new Set(recent.map((r) => r.id)));
  const fullCount = reportRequests((await runAndKeepLog(true)).log).length;
  expect(requests.length).toBeLessThan(fullCount);
  for (const table of REPORTS) {
    const summary = refresh.result.tables.find((t) => t.table === table);
    expect({ table, incremental: summary?.incremental?.fromVersion }).toEqual({ table, incremental: 1 });
    expect({ table, differences: await versionDifferences(query, SCHEMA, table, 2, 3) }).toEqual({
      table,
      differences: 0,
    });
  }
  const mismatches = await reportFigureMismatches(engine.database.url, SCHEMA, engine.sandbox.clock());
  expect(mismatches).toEqual({});
}, 120_000);

async function runAndKeepLog(full: boolean): Promise<{ result: RunResult; log: RequestLogEntry[] }> {
  const outcome = await run(full);
  expect(outcome.result.version).toBe(3);
  return outcome;
}
