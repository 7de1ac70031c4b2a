import { WorkflowFailedError } from '@temporalio/client';
import { describeSchedule } from '../../shared/schedules';
import { TASK_QUEUE } from '../../shared/config';
import { rootCauseMessage, rootCauseType, type RemoveInput } from '../../shared/operations';
import { createDataflows, engineQuery } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import { runCli } from './cli-process';

/**
 * Remove leaves users' objects alone: a view a user built on a dataflow's table refuses `dataflow remove` by name
 * before anything changes (schedule, tables, rows), the workflow refuses the same when one appears after the check,
 * and `--cascade` drops the view with the dataflow.
 */
let engine: TestEngine;
const NAME = 'KeptViews';
const SCHEMA = 'keptviews';
const VIEW = 'public.keptviews_vip_lists';

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { metrics: 4, lists: 3 } } });
  await createDataflows(engine, [NAME], ['metrics', 'lists']);
  await engine.api.waitForRun(await engine.api.run(NAME));
  await engine.api.schedule(NAME, { every: '1h' });
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

const query = engineQuery(() => engine);

async function relationExists(qualified: string): Promise<boolean> {
  const [row] = await query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [qualified]);
  return row.found;
}

/** Everything a removal would take away is still there. */
async function expectUntouched(): Promise<void> {
  expect(await relationExists(`${SCHEMA}.lists`)).toBe(true);
  expect(await relationExists(`${SCHEMA}.metrics`)).toBe(true);
  expect(await relationExists(VIEW)).toBe(true);
  expect((await engine.api.get(NAME)).name).toBe(NAME);
  expect(await describeSchedule(await engine.temporal.client(), NAME)).toMatchObject({ spec: 'every 1h' });
  expect(await query(`SELECT 1 FROM dataflow_control.operation_locks`)).toEqual([]);
}

test('remove with a user view on a table refuses, names the view, and changes nothing', async () => {
  await query(`CREATE VIEW ${VIEW} AS SELECT id, name FROM ${SCHEMA}.lists`);
  const refused = await runCli(engine.env, ['remove', NAME, '--yes']);
  expect(refused.stderr.trim()).toBe(
    `error: The view ${VIEW} depends on ${SCHEMA}.lists; drop it first, or remove with --cascade to drop it too. ` +
      'Nothing was removed.',
  );
  expect(refused.code).toBe(2);
  await expectUntouched();
  // Refused before the workflow: the history shows no removal.
  expect((await engine.api.history(NAME)).map((r) => r.operation)).not.toContain('remove');

  const asJson = await runCli(engine.env, ['remove', NAME, '--yes', '--json']);
  expect(JSON.parse(asJson.stderr)).toMatchObject({ code: 'DependentObjects', kind: 'conflict' });
});

test('a view created after the check is refused by the workflow itself, which gives its lock back', async () => {
  // The workflow started directly, as if the view had appeared between DataflowApi's check and the drop.
  const temporal = await engine.temporal.client();
  const input: RemoveInput = { dataflow: NAME, trigger: 'manual' };
  const handle = await temporal.workflow.start('removeDataflow', {
    taskQueue: TASK_QUEUE,
    workflowId: `remove-race-${Date.now()}`,
    args: [input],
  });
  const failure = await handle.result().then(
    () => new Error('the removal succeeded'),
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect(rootCauseType(failure)).toBe('DependentObjects');
  expect(rootCauseMessage(failure)).toContain(`The view ${VIEW} depends on ${SCHEMA}.lists`);
  await expectUntouched();
});

test('remove --cascade drops the dataflow and the view built on it, and says so', async () => {
  const removed = await runCli(engine.env, ['remove', NAME, '--yes', '--cascade']);
  expect(removed.stderr).toBe('');
  expect(removed.code).toBe(0);
  expect(removed.stdout).toContain(`also dropped view ${VIEW}`);
  expect(await relationExists(VIEW)).toBe(false);
  expect(await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [SCHEMA])).toEqual([]);
  expect(await describeSchedule(await engine.temporal.client(), NAME)).toBeNull();
  await expect(engine.api.get(NAME)).rejects.toThrow(`No dataflow named "${NAME}".`);
});
