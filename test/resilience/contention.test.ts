import { startWorker } from '../../worker/create-worker';
import { startTestEngine, workflowBundle, type TestEngine } from '../support/engine';
import { assertNoKeys, scanForKeys } from '../support/key-scan';
import { firedFaults } from './fired-faults';
import { startTally } from './tally';
import { checkDataflow } from './warehouse-check';

/**
 * Contention. Five dataflows on one Klaviyo account run at once with Klaviyo's rate limits on: they
 * share the account's budget, and all succeed without any run ending on a 429. A run, a rollback and
 * a remove requested at the same moment on one dataflow: one proceeds, the others are refused as busy,
 * and nothing is corrupted.
 */
const FLOWS = ['Crowd1', 'Crowd2', 'Crowd3', 'Crowd4', 'Crowd5'];
const TABLES = ['profiles', 'events', 'metrics', 'lists', 'tags'];
/** The loser of a race is told what won it, with a link to that run. */
const busy =
  /^Dataflow "Crowd1" is busy: a (run|rollback|remove) is in progress \(http:\/\/[^ ]+\/workflows\/dataflow-crowd1\/[0-9a-f-]{36}\/history\)\. Wait for it to finish/;

const tally = startTally('contention', __filename);
let engine: TestEngine;

beforeAll(async () => {
  // Creating probes every table of the catalog: done without limits, so that the runs are what compete.
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 400, events: 3000, metrics: 5, lists: 4, tags: 4 } },
  });
  for (const name of FLOWS) {
    await engine.api.create({
      name,
      apiKey: engine.sandbox.keys.full,
      baseUrl: engine.sandbox.baseUrl,
      tables: TABLES,
    });
  }
  // Klaviyo's real tiers in the sandbox, and the same per-account budget in the worker.
  engine.sandbox.setRateLimits({ enabled: true, scale: 1 });
  engine.worker = await startWorker({
    temporalAddress: engine.temporal.address,
    namespace: engine.temporal.namespace,
    databaseUrl: engine.database.url,
    workflowBundle: await workflowBundle(),
    activities: { klaviyoRateLimits: { enabled: true, scale: 1 } },
  });
}, 120_000);

afterAll(async () => {
  tally.save();
  await engine?.stop();
});

test('five dataflows of one account run at once within its rate budget and all succeed', async () => {
  engine.sandbox.resetRequestLog();
  const started = await Promise.all(FLOWS.map((name) => engine.api.run(name)));
  tally.add({ trials: FLOWS.length });
  const outcomes = await Promise.all(started.map((run) => engine.api.waitForRun(run).catch((err: Error) => err)));
  const failed = outcomes.filter((o): o is Error => o instanceof Error).map((e) => e.message);
  const fired = firedFaults(engine.sandbox.requestLog());
  tally.fire(fired);
  console.log(`contention: ${engine.sandbox.requestLog().length} requests, faults fired ${JSON.stringify(fired)}`);
  expect(failed).toEqual([]);
  const problems: string[] = [];
  for (const name of FLOWS) {
    const check = await checkDataflow(engine.api.pool, engine.sandbox, name, TABLES);
    tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
    problems.push(...check.problems);
  }
  expect(problems).toEqual([]);
  tally.add({ survived: FLOWS.length });
}, 240_000);

test('a run, a rollback and a remove requested at once: one proceeds, the others are refused as busy', async () => {
  // A second version, so a rollback has somewhere to go.
  await engine.api.waitForRun(await engine.api.run('Crowd1'));
  const before = await engine.api.entities('Crowd1');
  engine.sandbox.setFaults({ rules: [{ kind: 'slow', delayMs: 300 }] });
  tally.add({ trials: 3 });
  const settle = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (err: Error) => err.message,
    );
  const [run, rollback, remove] = await Promise.all([
    settle(engine.api.run('Crowd1').then((started) => engine.api.waitForRun(started))),
    settle(engine.api.rollback('Crowd1')),
    settle(engine.api.remove('Crowd1')),
  ]);
  engine.sandbox.setFaults({});
  const outcomes = { run, rollback, remove };
  console.log(`contention: run, rollback, remove at once → ${JSON.stringify(outcomes)}`);
  const proceeded = Object.entries(outcomes).filter(([, o]) => o === 'ok');
  const refused = Object.values(outcomes).filter((o) => busy.test(o));
  tally.fire({ 'racing operations': refused.length });
  expect(proceeded).toHaveLength(1);
  expect(refused).toHaveLength(2);

  // Whatever proceeded left a consistent dataflow behind.
  const [winner] = proceeded[0];
  if (winner === 'remove') {
    await expect(engine.api.get('Crowd1')).rejects.toThrow('No dataflow named "Crowd1".');
    const { rows } = await engine.api.pool.query("SELECT 1 FROM pg_namespace WHERE nspname = 'crowd1'");
    expect(rows).toEqual([]);
  } else {
    const entities = await engine.api.entities('Crowd1');
    const dataflow = await engine.api.get('Crowd1');
    expect(new Set(entities.map((e) => e.version))).toEqual(new Set([dataflow.currentVersion]));
    const was = before[0].version ?? 0;
    expect(dataflow.currentVersion).toBe(winner === 'run' ? was + 1 : was - 1);
    const check = await checkDataflow(engine.api.pool, engine.sandbox, 'Crowd1', TABLES);
    tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
    expect(check.problems).toEqual([]);
  }
  expect((await engine.api.pool.query('SELECT 1 FROM dataflow_control.operation_locks')).rows).toEqual([]);
  tally.add({ survived: 3 });
}, 120_000);

test('the other dataflows were not touched', async () => {
  for (const name of FLOWS.slice(1)) {
    expect((await checkDataflow(engine.api.pool, engine.sandbox, name, TABLES)).problems).toEqual([]);
    expect((await engine.api.get(name)).currentVersion).toBe(1);
  }
});

test('no API key appears in anything the runs left behind', async () => {
  const scan = await scanForKeys(engine, [engine.sandbox.keys.full]);
  tally.add({ keysLeaked: scan.leaks.length });
  assertNoKeys(scan);
}, 120_000);
