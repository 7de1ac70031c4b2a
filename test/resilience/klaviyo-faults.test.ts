import type { Entity } from '../../warehouse/entities';
import type { StartedOperation } from '../../client/dataflow-api';
import type { FaultConfig, FaultRule } from '../../sandbox/server';
import { startWorker } from '../../worker/create-worker';
import { startTestEngine, workflowBundle, type TestEngine } from '../support/engine';
import { assertNoKeys, scanForKeys } from '../support/key-scan';
import { firedFaults, unmetMinimums } from './fired-faults';
import { startTally } from './tally';
import { checkDataflow } from './warehouse-check';

/**
 * Klaviyo misbehaving (the sandbox's faults): storms of 429, 10 % of answers 5xx, slow pages, JSON cut
 * short, connections reset. Every run reads every table in full, under fire, and commits exactly the
 * sandbox's rows and values; each weather proves from the sandbox's request log that its faults fired.
 * A table that always fails leaves its run needing attention, naming the table and the cause; discarded,
 * the run fails and the previous version stays live.
 */
const STEADY = 'Weathered';
const STEADY_TABLES = ['profiles', 'events', 'metrics', 'lists', 'tags'];
const DOOMED = 'Doomed';
const DOOMED_TABLES = ['metrics', 'catalog_items'];
/** catalog_items has 150 rows read 100 a page: page 2 is read only by an extraction, never by the scope check. */
const CATALOG_PAGE_2_ALWAYS_FAILS = { table: 'catalog_items', page: 2, kind: 'status' as const, status: 500 };

interface Weather {
  faults: FaultConfig;
  /** The sandbox's own rate limits (its 429s carry Retry-After); the worker keeps no budget of its own here. */
  rateLimitScale?: number;
  /** Faults of each kind (as fired-faults.ts names them) the request log must show, or the weather did not happen. */
  least: Record<string, number>;
}
/** Rules that fire `times` times on pages of both big tables, on top of the random shares: the minimums are certain. */
const on = (kind: FaultRule['kind'], times: number, extra: Partial<FaultRule> = {}): FaultRule[] => [
  { table: 'profiles', page: 3, kind, times, ...extra },
  { table: 'events', page: 2, kind, times: 1, ...extra },
];
const WEATHER: [string, Weather][] = [
  ['a storm of 429s', { faults: {}, rateLimitScale: 0.2, least: { '429': 1 } }],
  [
    '10% of answers 5xx',
    {
      faults: { errorRate: 0.1, errorStatuses: [500, 502, 503, 504], rules: on('status', 2, { status: 503 }) },
      least: { 'HTTP 5xx': 3 },
    },
  ],
  [
    'slow pages',
    { faults: { slowRate: 0.5, delayMs: 400, rules: on('slow', 2, { delayMs: 400 }) }, least: { slow: 3 } },
  ],
  ['truncated JSON', { faults: { truncateRate: 0.1, rules: on('truncate', 2) }, least: { truncate: 3 } }],
  ['connection resets', { faults: { resetRate: 0.1, rules: on('reset', 2) }, least: { reset: 3 } }],
  [
    'all of them at once',
    {
      faults: {
        errorRate: 0.05,
        slowRate: 0.2,
        delayMs: 200,
        truncateRate: 0.05,
        resetRate: 0.05,
        malformedRate: 0.05,
        rules: [
          { table: 'profiles', page: 2, kind: 'status', status: 502, times: 1 },
          { table: 'profiles', page: 4, kind: 'reset', times: 1 },
          { table: 'profiles', page: 6, kind: 'truncate', times: 1 },
          { table: 'events', page: 3, kind: 'malformed', times: 1 },
          { table: 'events', page: 2, kind: 'slow', delayMs: 200, times: 1 },
        ],
      },
      rateLimitScale: 0.5,
      least: { 'HTTP 5xx': 1, reset: 1, truncate: 1, malformed: 1, slow: 1 },
    },
  ],
];

const tally = startTally('Klaviyo faults', __filename);
let engine: TestEngine;
let doomedBefore: Entity[];
let doomedRun: Promise<Error | null>;
let doomedStarted: StartedOperation;

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    // Enough rows for every full read to span several pages and checkpoints (profiles 100 a page, events 1,000).
    sandbox: { sizes: { profiles: 2000, events: 5000, metrics: 5, lists: 4, tags: 4, catalogItems: 150 } },
  });
  // The Klaviyo client's own retries of a page are shortened so the doomed table reaches the workflow's retry
  // policy (5 attempts, backoff from 2 s, unchanged) in about 30 s; 429s still wait out their Retry-After.
  engine.worker = await startWorker({
    temporalAddress: engine.temporal.address,
    namespace: engine.temporal.namespace,
    databaseUrl: engine.database.url,
    workflowBundle: await workflowBundle(),
    activities: { klaviyoRetry: { baseDelayMs: 10, maxDelayMs: 50 } },
  });
  const base = { apiKey: engine.sandbox.keys.full, baseUrl: engine.sandbox.baseUrl };
  await engine.api.create({ name: STEADY, tables: STEADY_TABLES, ...base });
  await engine.api.create({ name: DOOMED, tables: DOOMED_TABLES, ...base });
  await Promise.all([STEADY, DOOMED].map(async (name) => engine.api.waitForRun(await engine.api.run(name))));
  doomedBefore = await engine.api.entities(DOOMED);
  // The doomed run spends its five attempts (about 30 s of backoff) while the weather runs go on.
  engine.sandbox.setFaults({ rules: [CATALOG_PAGE_2_ALWAYS_FAILS] });
  doomedStarted = await engine.api.run(DOOMED, { full: true });
  doomedRun = engine.api.waitForRun(doomedStarted).then(
    () => null,
    (err: Error) => err,
  );
  tally.add({ trials: 1 });
}, 120_000);

afterAll(async () => {
  tally.save();
  await engine?.stop();
});

test.each(WEATHER)(
  'a full run through %s fires its faults and commits exactly the sandbox rows and values',
  async (weather, { faults, rateLimitScale, least }) => {
    engine.sandbox.setFaults({ ...faults, rules: [CATALOG_PAGE_2_ALWAYS_FAILS, ...(faults.rules ?? [])] });
    engine.sandbox.setRateLimits(rateLimitScale ? { enabled: true, scale: rateLimitScale } : { enabled: false });
    const since = new Date().toISOString();
    tally.add({ trials: 1 });
    // In full: an incremental run would re-read a few pages and copy the rest from the fault-free version.
    const result = await engine.api.waitForRun(await engine.api.run(STEADY, { full: true })).finally(() => {
      engine.sandbox.setRateLimits({ enabled: false });
      engine.sandbox.setFaults({ rules: [CATALOG_PAGE_2_ALWAYS_FAILS] });
    });
    const answers = engine.sandbox.requestLog().filter((e) => e.time >= since && e.table !== 'catalog_items');
    const fired = firedFaults(answers);
    console.log(`klaviyo-faults: ${weather}: ${answers.length} requests, faults fired ${JSON.stringify(fired)}`);
    tally.fire(fired);
    expect(unmetMinimums(fired, least)).toEqual([]);
    expect(result.tables.map((t) => t.table).sort()).toEqual([...STEADY_TABLES].sort());
    const check = await checkDataflow(engine.api.pool, engine.sandbox, STEADY, STEADY_TABLES);
    tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
    expect(check.problems).toEqual([]);
    expect((await engine.api.get(STEADY)).currentVersion).toBe(result.version);
    tally.add({ survived: 1 });
  },
  180_000,
);

test('a table that always fails leaves its run needing attention, naming the table and the cause; discarded, it fails', async () => {
  const attention = await doomedRun;
  const fired = firedFaults(engine.sandbox.requestLog().filter((e) => e.table === 'catalog_items'));
  tally.fire(fired);
  expect(fired['HTTP 500']).toBeGreaterThanOrEqual(5);
  expect(attention?.message).toMatch(
    /needs attention: "catalog_items": Klaviyo answered HTTP 500 to \d+ attempt\(s\) to read the table "catalog_items"\./,
  );
  await engine.api.discard(DOOMED);
  const failure = await engine.api.temporal.workflow
    .getHandle(doomedStarted.workflowId, doomedStarted.runId)
    .result()
    .then(
      () => null,
      (err: Error) => err,
    );
  expect(failure).not.toBeNull();
  const dataflow = await engine.api.get(DOOMED);
  expect(dataflow.status).toBe('Failed');
  expect(dataflow.lastError).toMatch(
    /^Klaviyo answered HTTP 500 to \d+ attempt\(s\) to read the table "catalog_items"\./,
  );
  tally.add({ survived: 1 });
}, 180_000);

test('after that failure the previous version stays live, row for row', async () => {
  expect(await engine.api.entities(DOOMED)).toEqual(doomedBefore);
  engine.sandbox.setFaults({});
  const check = await checkDataflow(engine.api.pool, engine.sandbox, DOOMED, DOOMED_TABLES);
  tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
  expect(check.problems).toEqual([]);
  const { rows } = await engine.api.pool.query(
    "SELECT version FROM dataflow_control.dataflow_versions WHERE state = 'staging'",
  );
  expect(rows).toEqual([]);
});

test('no API key appears in anything the runs left behind', async () => {
  const scan = await scanForKeys(engine, [engine.sandbox.keys.full]);
  tally.add({ keysLeaked: scan.leaks.length });
  assertNoKeys(scan);
}, 120_000);
