import type { Entity } from '../../activities/warehouse/entities';
import type { FaultConfig } from '../../sandbox/server';
import { startWorker } from '../../worker/create-worker';
import { startTestEngine, workflowBundle, type TestEngine } from '../support/engine';
import { findKeysInNamespace } from './namespace-key-scan';
import { startTally } from './tally';
import { compareDataflow } from './warehouse-check';

/**
 * Klaviyo misbehaving (the sandbox's faults): storms of 429, 10 % of answers 5xx, slow pages, JSON cut
 * short, connections reset. Every run commits exactly the sandbox's rows. A table that always fails
 * fails its run, naming the table and the cause, and leaves the previous version live.
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
}
const WEATHER: [string, Weather][] = [
  ['a storm of 429s', { faults: {}, rateLimitScale: 0.2 }],
  ['10% of answers 5xx', { faults: { errorRate: 0.1, errorStatuses: [500, 502, 503, 504] } }],
  ['slow pages', { faults: { slowRate: 0.5, delayMs: 400 } }],
  ['truncated JSON', { faults: { truncateRate: 0.1 } }],
  ['connection resets', { faults: { resetRate: 0.1 } }],
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
      },
      rateLimitScale: 0.5,
    },
  ],
];

const tally = startTally('Klaviyo faults');
let engine: TestEngine;
let doomedBefore: Entity[];
let doomedRun: Promise<Error | null>;

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 1500, events: 5000, metrics: 5, lists: 4, tags: 4, catalogItems: 150 } },
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
  const started = await engine.api.run(DOOMED);
  doomedRun = engine.api.waitForRun(started).then(
    () => null,
    (err: Error) => err,
  );
  tally.add({ trials: 1, faults: 1 });
}, 120_000);

afterAll(async () => {
  tally.save();
  await engine?.stop();
});

test.each(WEATHER)(
  'a run through %s commits exactly the sandbox rows',
  async (weather, { faults, rateLimitScale }) => {
    engine.sandbox.setFaults({ ...faults, rules: [...(faults.rules ?? []), CATALOG_PAGE_2_ALWAYS_FAILS] });
    engine.sandbox.setRateLimits(rateLimitScale ? { enabled: true, scale: rateLimitScale } : { enabled: false });
    engine.sandbox.resetRequestLog();
    tally.add({ trials: 1, faults: 1 });
    const result = await engine.api
      .waitForRun(await engine.api.run(STEADY))
      .finally(() => engine.sandbox.setRateLimits({ enabled: false }));
    const answers = engine.sandbox.requestLog().filter((e) => e.table !== 'catalog_items');
    const faulty = answers.filter((e) => e.status !== 200).length;
    console.log(`klaviyo-faults: ${weather}: ${answers.length} requests, ${faulty} answered with a fault`);
    if (rateLimitScale) expect(answers.filter((e) => e.status === 429).length).toBeGreaterThan(0);
    const check = await compareDataflow(engine.api.pool, engine.sandbox, STEADY, STEADY_TABLES);
    tally.add({ survived: 1, rowsLost: check.lost, rowsDuplicated: check.duplicated });
    expect(check.comparisons.filter((c) => c.lost || c.duplicated || c.unexpected)).toEqual([]);
    expect((await engine.api.get(STEADY)).currentVersion).toBe(result.version);
  },
  120_000,
);

test('a table that always fails fails its run, naming the table and the cause', async () => {
  const failure = await doomedRun;
  expect(failure?.message).toMatch(
    /^Klaviyo answered HTTP 500 to \d+ attempt\(s\) to read the table "catalog_items"\./,
  );
  tally.add({ survived: 1 });
}, 120_000);

test('after that failure the previous version stays live, row for row', async () => {
  expect(await engine.api.entities(DOOMED)).toEqual(doomedBefore);
  const check = await compareDataflow(engine.api.pool, engine.sandbox, DOOMED, DOOMED_TABLES);
  tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated });
  expect(check.exact).toBe(true);
  const { rows } = await engine.api.pool.query(
    "SELECT version FROM dataflow_control.dataflow_versions WHERE state = 'staging'",
  );
  expect(rows).toEqual([]);
});

test('no API key appears in any workflow history', async () => {
  const { leaks } = await findKeysInNamespace(await engine.temporal.client(), [engine.sandbox.keys.full]);
  tally.add({ keysLeaked: leaks.length });
  expect(leaks).toEqual([]);
}, 60_000);
