import { setTimeout as sleep } from 'node:timers/promises';
import type { RunRecord } from '../../client/run-history';
import { describeSchedule } from '../../shared/schedules';
import { createDataflows } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';

/**
 * A dataflow refreshed by a Temporal Schedule: its runs are tagged as scheduled, pausing stops them,
 * and removing the dataflow takes the schedule with it.
 */
let engine: TestEngine;
const NAME = 'ScheduleDemo';
/** Temporal refuses intervals under one second; two leave each small run time to finish. */
const INTERVAL_MS = 2_000;

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { metrics: 4, lists: 3 } } });
  await createDataflows(engine, [NAME], ['accounts', 'metrics', 'lists']);
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

async function runs(): Promise<RunRecord[]> {
  return (await engine.api.history(NAME)).filter((r) => r.operation === 'run');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(250);
  }
}

test('a schedule every 2s starts runs that the history shows as triggered by the schedule', async () => {
  const view = await engine.api.schedule(NAME, { every: '2s' });
  expect(view).toMatchObject({ spec: 'every 2s', paused: false });
  const completed = await waitFor('two scheduled runs to complete', async () => {
    const done = (await runs()).filter((r) => r.status === 'COMPLETED');
    return done.length >= 2 ? done : undefined;
  });
  expect(completed.map((r) => r.trigger)).toEqual(completed.map(() => 'schedule'));
  expect(new Set(completed.map((r) => r.workflowId)).size).toBe(completed.length);
  expect((await engine.api.get(NAME)).currentVersion).toBeGreaterThanOrEqual(2);
}, 60_000);

test('the list shows the schedule and its next run, at most one interval ahead', async () => {
  const row = (await engine.api.list()).find((r) => r.name === NAME);
  expect(row).toMatchObject({ scheduleSpec: 'every 2s', schedulePaused: false, schedule: 'every 2s' });
  const now = Date.now();
  expect(row?.nextRun?.getTime()).toBeGreaterThan(now - 1_000);
  expect(row?.nextRun?.getTime()).toBeLessThanOrEqual(now + INTERVAL_MS + 1_000);
});

test('pausing the schedule stops new runs, and the list shows it paused with no next run', async () => {
  await engine.api.pauseSchedule(NAME, true);
  // A run the schedule started just before the pause may still finish; none may start after it.
  await waitFor('runs started before the pause to end', async () =>
    (await runs()).every((r) => r.status !== 'RUNNING') ? true : undefined,
  );
  const afterPause = (await runs()).length;
  await sleep(3 * INTERVAL_MS);
  expect((await runs()).length).toBe(afterPause);
  const row = (await engine.api.list()).find((r) => r.name === NAME);
  expect(row).toMatchObject({ schedulePaused: true, nextRun: null });
}, 60_000);

test('changing the interval changes what the list and describeSchedule say, not only what Temporal does', async () => {
  const temporal = await engine.temporal.client();
  await engine.api.schedule(NAME, { every: '1m' });
  const view = await engine.api.schedule(NAME, { every: '10s' });
  expect(view.spec).toBe('every 10s');
  expect(await describeSchedule(temporal, NAME)).toMatchObject({ spec: 'every 10s' });
  expect((await engine.api.list()).find((r) => r.name === NAME)).toMatchObject({
    scheduleSpec: 'every 10s',
    schedule: 'every 10s',
  });
  await engine.api.schedule(NAME, { cron: '0 */6 * * *' });
  expect((await engine.api.list()).find((r) => r.name === NAME)).toMatchObject({ scheduleSpec: 'cron 0 */6 * * *' });
  await engine.api.schedule(NAME, { every: '1h30m' });
  expect(await describeSchedule(temporal, NAME)).toMatchObject({ spec: 'every 1h30m' });
});

test('a cron that never fires is refused in words to act on, and the schedule is left as it was', async () => {
  const temporal = await engine.temporal.client();
  const before = await describeSchedule(temporal, NAME);
  expect(before).toMatchObject({ spec: 'every 1h30m' });
  await expect(engine.api.schedule(NAME, { cron: '0 0 31 2 *' })).rejects.toThrow(
    'Invalid schedule "cron 0 0 31 2 *": it would never run (no date matches it). Check the day-of-month, month ' +
      'and day-of-week fields (February has no 30th or 31st; April, June, September and November have no 31st). ' +
      'Nothing was changed.',
  );
  await expect(engine.api.schedule(NAME, { cron: '0 0 1 1 * 2099' })).rejects.toThrow(
    /^Invalid schedule "cron 0 0 1 1 \* 2099": it would never run \(not before 2099-01-01\)/,
  );
  expect(await describeSchedule(temporal, NAME)).toEqual(before);
  expect((await engine.api.get(NAME)).schedule).toBe('every 1h30m');
  // A leap day is rare, not never: it is accepted.
  await expect(engine.api.schedule(NAME, { cron: '0 0 29 2 *' })).resolves.toMatchObject({ spec: 'cron 0 0 29 2 *' });
  await engine.api.schedule(NAME, { every: '1h30m' });
});

test('a dataflow without a schedule gets none from a cron that never fires, nor any leftover', async () => {
  const temporal = await engine.temporal.client();
  await engine.api.create({
    name: 'NeverScheduled',
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['metrics'],
  });
  await expect(engine.api.schedule('NeverScheduled', { cron: '0 0 30 2 *' })).rejects.toMatchObject({
    code: 'InvalidSchedule',
  });
  expect(await describeSchedule(temporal, 'NeverScheduled')).toBeNull();
  expect((await engine.api.get('NeverScheduled')).schedule).toBeNull();
  await engine.api.remove('NeverScheduled');
  // The check's own schedules are gone too: only the dataflow's is left.
  const schedules: string[] = [];
  for await (const s of temporal.schedule.list()) schedules.push(s.scheduleId);
  expect(schedules).toEqual([`dataflow-${NAME.toLowerCase()}-schedule`]);
});

test('removing the dataflow deletes its schedule', async () => {
  const temporal = await engine.temporal.client();
  expect(await describeSchedule(temporal, NAME)).not.toBeNull();
  await engine.api.remove(NAME);
  expect(await describeSchedule(temporal, NAME)).toBeNull();
  const schedules: string[] = [];
  for await (const s of temporal.schedule.list()) schedules.push(s.scheduleId);
  expect(schedules).toEqual([]);
});
