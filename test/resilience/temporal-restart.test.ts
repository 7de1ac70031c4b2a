import type { RunResult } from '../../shared/operations';
import { startTestEngine, type TestEngine } from '../support/engine';
import { startTally } from './tally';
import { compareDataflow } from './warehouse-check';

/**
 * The Temporal dev server stopped and started again (same SQLite file) in the middle of a run: the
 * worker reconnects, the run picks up where its history says and commits exactly the sandbox's rows.
 */
const NAME = 'Restarted';
const TABLES = ['profiles', 'events', 'metrics', 'lists'];

const tally = startTally('Temporal restarts');
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({
    persistTemporal: true,
    sandbox: { sizes: { profiles: 300, events: 4000, metrics: 5, lists: 4 } },
  });
  await engine.api.create({
    name: NAME,
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: TABLES,
  });
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
  const run = await engine.api.run(NAME);
  tally.add({ trials: 1 });
  const handle = engine.api.temporal.workflow.getHandle(run.workflowId, run.runId);
  const deadline = Date.now() + 60_000;
  while ((await engine.api.progress(handle)).phase !== 'extracting') {
    if (Date.now() > deadline) throw new Error('The extraction never started');
    await new Promise((r) => setTimeout(r, 100));
  }
  await engine.temporal.restart();
  tally.add({ faults: 1 });
  engine.sandbox.setFaults({});
  const result = await resultSurvivingRestarts(run.workflowId, run.runId);
  expect(result.tables.map((t) => t.table).sort()).toEqual([...TABLES].sort());
  const check = await compareDataflow(engine.api.pool, engine.sandbox, NAME, TABLES);
  tally.add({ survived: 1, rowsLost: check.lost, rowsDuplicated: check.duplicated });
  expect(check.comparisons.filter((c) => c.lost || c.duplicated || c.unexpected)).toEqual([]);
  expect((await engine.api.get(NAME)).status).toBe('Succeeded');
}, 150_000);
