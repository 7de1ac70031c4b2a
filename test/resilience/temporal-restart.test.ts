import type { RunResult } from '../../shared/operations';
import { createDataflows } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import { assertNoKeys, scanForKeys } from '../support/key-scan';
import { firedFaults } from './fired-faults';
import { startTally } from './tally';
import { checkDataflow } from './warehouse-check';

/**
 * The Temporal dev server stopped and started again (same SQLite file) in the middle of a run: the
 * worker reconnects, the run picks up where its history says and commits exactly the sandbox's rows.
 */
const NAME = 'Restarted';
const TABLES = ['profiles', 'events', 'metrics', 'lists'];

const tally = startTally('Temporal restarts', __filename);
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({
    persistTemporal: true,
    sandbox: { sizes: { profiles: 2000, events: 4000, metrics: 5, lists: 4 } },
  });
  await createDataflows(engine, [NAME], TABLES);
}, 120_000);

afterAll(async () => {
  tally.save();
  await engine?.stop();
});

/** The run's result, asked again while the server is away. */
async function resultSurvivingRestarts(workflowId: string, runId: string): Promise<RunResult> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return (await engine.api.temporal.workflow.getHandle(workflowId, runId).result()) as RunResult;
    } catch (err) {
      if (Date.now() > deadline || (err instanceof Error && err.name === 'WorkflowFailedError')) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

test('a run survives the Temporal server restarting mid-extraction and commits every row once', async () => {
  engine.sandbox.setFaults({ rules: [{ kind: 'slow', delayMs: 400 }] });
  const since = new Date().toISOString();
  const run = await engine.api.run(NAME, { full: true });
  tally.add({ trials: 1 });
  const handle = engine.api.temporal.workflow.getHandle(run.workflowId, run.runId);
  const deadline = Date.now() + 60_000;
  while ((await engine.api.progress(handle)).phase !== 'extracting') {
    if (Date.now() > deadline) throw new Error('The extraction never started');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Still extracting when the server went away: the restart hit the run mid-read, not after it.
  const extracting = (await engine.api.progress(handle)).tables.some((t) => t.state !== 'done');
  await engine.temporal.restart();
  tally.fire({ 'Temporal restart': 1 });
  const result = await resultSurvivingRestarts(run.workflowId, run.runId);
  engine.sandbox.setFaults({});
  tally.fire(firedFaults(engine.sandbox.requestLog().filter((e) => e.time >= since && e.fault !== 'slow')));
  expect(extracting).toBe(true);
  expect(result.tables.map((t) => t.table).sort()).toEqual([...TABLES].sort());
  const check = await checkDataflow(engine.api.pool, engine.sandbox, NAME, TABLES);
  tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
  expect(check.problems).toEqual([]);
  expect((await engine.api.get(NAME)).status).toBe('Succeeded');
  tally.add({ survived: 1 });
}, 180_000);

test('no API key appears in anything the run left behind, the Temporal database file included', async () => {
  const scan = await scanForKeys(engine, [engine.sandbox.keys.full]);
  tally.add({ keysLeaked: scan.leaks.length });
  expect(scan.scanned['Temporal database file']).toBeGreaterThan(0);
  assertNoKeys(scan);
}, 120_000);
