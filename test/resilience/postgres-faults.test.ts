import { Client as PgClient, Pool } from 'pg';
import { withTransaction } from '../../control-plane/postgres';
import type { Entity } from '../../warehouse/entities';
import { createDataflows } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import { activityRecords } from '../engine/workflow-events';
import { assertNoKeys, scanForKeys } from '../support/key-scan';
import { startTally } from './tally';
import { checkDataflow } from './warehouse-check';

/**
 * Postgres failing under the loader. A connection terminated in the middle of a COPY: the batch's
 * transaction is rolled back, the activity retries from its checkpoint and the run commits exactly the
 * sandbox's rows. The database refusing connections for longer than the extraction's retries: the run
 * needs attention saying so; discarded, it fails, the previous version stays live and readable, and the
 * staged version is cleaned up.
 */
const NAME = 'Loader';
const TABLES = ['events', 'metrics'];
const EVENTS = 30_000;
const COPIES_TO_TERMINATE = 2;

const tally = startTally('Postgres faults', __filename);
let engine: TestEngine;
let admin: PgClient;

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { events: EVENTS, metrics: 5 } } });
  admin = new PgClient({ connectionString: engine.env.DATABASE_URL?.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  await createDataflows(engine, [NAME], TABLES);
}, 120_000);

afterAll(async () => {
  tally.save();
  await admin
    ?.query(`ALTER DATABASE ${admin.escapeIdentifier(engine.database.name)} ALLOW_CONNECTIONS true`)
    .catch(() => undefined);
  await admin?.end();
  await engine?.stop();
});

/**
 * Terminates one backend of the engine's database that is running a COPY; how many it terminated (0 or 1). One at a
 * time, so the test terminates exactly as many COPYs as it says: a sliced read has several writes in flight at once.
 */
async function terminateCopy(): Promise<number> {
  const { rows } = await admin.query<{ terminated: boolean }>(
    `SELECT pg_terminate_backend(pid) AS terminated FROM (
       SELECT pid FROM pg_stat_activity
       WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE 'COPY %'
       LIMIT 1
     ) AS copy`,
    [engine.database.name],
  );
  return rows.filter((r) => r.terminated).length;
}

test(`a run whose COPY connections are terminated ${COPIES_TO_TERMINATE} times retries and commits every row once`, async () => {
  engine.sandbox.setFaults({ rules: [{ table: 'events', kind: 'slow', delayMs: 100 }] });
  const run = await engine.api.run(NAME, { full: true });
  tally.add({ trials: 1 });
  const result = engine.api.waitForRun(run).then(
    (r) => r,
    (err: Error) => err,
  );
  let settled = false;
  void result.finally(() => (settled = true));
  let terminated = 0;
  while (!settled && terminated < COPIES_TO_TERMINATE) {
    terminated += await terminateCopy();
    await new Promise((r) => setTimeout(r, 2));
  }
  tally.fire({ 'COPY terminated': terminated });
  const outcome = await result;
  engine.sandbox.setFaults({});
  expect(terminated).toBe(COPIES_TO_TERMINATE);
  expect(outcome).not.toBeInstanceOf(Error);
  const check = await checkDataflow(engine.api.pool, engine.sandbox, NAME, TABLES);
  tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
  expect(check.problems).toEqual([]);
  const extract = (await activityRecords(await engine.temporal.client(), run.workflowId, run.runId)).get(
    'extractTable',
  );
  expect(extract?.failures).toEqual([]);
  expect(Math.max(...(extract?.attempts ?? [0]))).toBeGreaterThan(1);
  tally.add({ survived: 1 });
}, 180_000);

test('a transaction whose connection is terminated rejects instead of crashing the process', async () => {
  const pool = new Pool({ connectionString: engine.database.url, max: 1 });
  pool.on('error', () => undefined);
  try {
    const outcome = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      // The socket closes while no query runs: pg reports that only as an 'error' event on the client.
      await new Promise((r) => setTimeout(r, 300));
      await client.query('SELECT 1');
    }).then(
      () => 'committed',
      (err: Error) => err.message,
    );
    expect(outcome).toMatch(/terminat|Connection terminated|ECONNRESET|not queryable/i);
    // The pool replaced the broken client: the next transaction works.
    expect(await withTransaction(pool, async (client) => (await client.query('SELECT 1 AS one')).rows[0].one)).toBe(1);
  } finally {
    await pool.end();
  }
});

describe('Postgres refusing connections for longer than the retry window', () => {
  let before: Entity[];
  let failure: Error | null;
  let message: string | null = null;
  let stagedVersion: number | null = null;

  beforeAll(async () => {
    before = await engine.api.entities(NAME);
    engine.sandbox.setFaults({ rules: [{ table: 'events', kind: 'slow', delayMs: 300 }] });
    const run = await engine.api.run(NAME, { full: true });
    tally.add({ trials: 1 });
    const handle = engine.api.temporal.workflow.getHandle(run.workflowId, run.runId);
    const waitFor = async (what: string, ok: (p: Awaited<ReturnType<typeof engine.api.progress>>) => boolean) => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const progress = await engine.api.progress(handle).catch(() => null);
        if (progress && ok(progress)) return progress;
        if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    stagedVersion = (await waitFor('the extraction', (p) => p.phase === 'extracting')).version;
    const database = admin.escapeIdentifier(engine.database.name);
    // "Down" for this database only: the server on 5432 is shared with other test files.
    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    tally.fire({ 'Postgres refusing': 1 });
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [engine.database.name],
    );
    try {
      // Down until the extraction has spent its retries; cleaning up finds the database back.
      await waitFor(
        'the extraction to fail',
        (p) => p.phase === 'discarding' || p.phase === 'needs-attention' || p.tables.some((t) => t.state === 'failed'),
      );
    } finally {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      engine.sandbox.setFaults({});
    }
    // A table failed for good leaves the run needing attention (workflows/run-dataflow.ts): discarded, it fails.
    const attention = await engine.api.waitForRun(run).then(
      () => null,
      (err: Error) => err,
    );
    if (attention?.message.includes('needs attention')) await engine.api.discard(NAME);
    failure = await handle.result().then(
      () => null,
      (err: Error) => err,
    );
    message = (await engine.api.get(NAME)).lastError;
  }, 180_000);

  test('the run fails saying the warehouse database does not accept connections', () => {
    console.log(`postgres-faults: the run failed with: ${message}`);
    expect(failure).not.toBeNull();
    expect(message).toMatch(
      /^The warehouse database is not accepting connections \(database "[^"]+" is not currently accepting connections\)\. Check that Postgres is up/,
    );
    tally.add({ survived: 1 });
  });

  test('the previous version stays live and readable, row for row', async () => {
    expect(await engine.api.entities(NAME)).toEqual(before);
    const check = await checkDataflow(engine.api.pool, engine.sandbox, NAME, TABLES);
    tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
    expect(check.problems).toEqual([]);
  });

  test('the staged version is cleaned: no tables of it remain and the dataflow is free', async () => {
    expect(stagedVersion).not.toBeNull();
    const { rows } = await engine.api.pool.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'loader' AND c.relname LIKE $1`,
      [`%\\_\\_v${stagedVersion}`],
    );
    expect(rows).toEqual([]);
    const versions = await engine.api.pool.query<{ state: string }>(
      'SELECT state FROM dataflow_control.dataflow_versions WHERE version = $1',
      [stagedVersion],
    );
    expect(versions.rows.map((r) => r.state)).not.toContain('staging');
    expect((await engine.api.pool.query('SELECT 1 FROM dataflow_control.operation_locks')).rows).toEqual([]);
    expect((await engine.api.get(NAME)).status).toBe('Failed');
  });
});

test('no API key appears in anything the runs left behind', async () => {
  const scan = await scanForKeys(engine, [engine.sandbox.keys.full]);
  tally.add({ keysLeaked: scan.leaks.length });
  assertNoKeys(scan);
}, 120_000);
