import { Runtime } from '@temporalio/worker';
import { startTestEngine, workerLogLines, type TestEngine } from '../support/engine';
import { assertNoKeys, fakeKey, findKeyForms, scanForKeys } from '../support/key-scan';
import { checkDataflow } from './warehouse-check';

/**
 * The resilience suite's own checks, shown to fail when they must: a key planted in a schedule's memo, in a
 * checkpoint URL or in a worker's info log is found by the key scan, in any of its forms; the scan without its
 * canary fails; one value corrupted in Postgres fails the value check. A check that cannot fail proves nothing.
 */
const NAME = 'Controls';
const TABLES = ['profiles', 'events', 'metrics'];
let engine: TestEngine;
let key: string;

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 250, events: 1500, metrics: 5 } } });
  key = engine.sandbox.keys.full;
  await engine.api.create({ name: NAME, apiKey: key, baseUrl: engine.sandbox.baseUrl, tables: TABLES });
  await engine.api.waitForRun(await engine.api.run(NAME));
}, 180_000);

afterAll(async () => {
  await engine?.stop();
});

describe('the key scan', () => {
  test('finds nothing after a clean run, and found its canary in every source', async () => {
    const scan = await scanForKeys(engine, [key]);
    expect(scan.canaryMissing).toEqual([]);
    expect(scan.leaks).toEqual([]);
    expect(() => assertNoKeys(scan)).not.toThrow();
  }, 120_000);

  test('fails without its canary: an unread source cannot pass as clean', async () => {
    const scan = await scanForKeys(engine, [key], { canary: false });
    expect(scan.leaks).toEqual([]);
    expect(() => assertNoKeys(scan)).toThrow(/did not read: workflow histories, schedules, .*Postgres/);
  }, 120_000);

  test('finds a key planted in a schedule memo', async () => {
    const client = await engine.temporal.client();
    const schedule = await client.schedule.create({
      scheduleId: 'planted-memo',
      spec: { intervals: [{ every: '365 days' }] },
      action: { type: 'startWorkflow', workflowType: 'planted', taskQueue: 'planted', args: [] },
      memo: { note: `configured with ${key}` },
      state: { paused: true },
    });
    try {
      const scan = await scanForKeys(engine, [key]);
      expect(scan.leaks.filter((l) => l.startsWith('schedules:'))).not.toEqual([]);
      expect(() => assertNoKeys(scan)).toThrow(/Keys leaked/);
    } finally {
      await schedule.delete();
    }
  }, 120_000);

  test('finds a key planted in a checkpoint URL in Postgres', async () => {
    const { rows } = await engine.api.pool.query<{ dataflow_id: string; version: number }>(
      'SELECT dataflow_id, version FROM dataflow_control.dataflow_versions LIMIT 1',
    );
    await engine.api.pool.query(
      `INSERT INTO dataflow_control.extract_checkpoints (dataflow_id, version, table_name, next_url)
       VALUES ($1, $2, 'planted', $3)`,
      [rows[0].dataflow_id, rows[0].version, `${engine.sandbox.baseUrl}/api/profiles?page[cursor]=x&api_key=${key}`],
    );
    try {
      const scan = await scanForKeys(engine, [key]);
      expect(scan.leaks.filter((l) => l.startsWith('Postgres:'))).not.toEqual([]);
      expect(() => assertNoKeys(scan)).toThrow(/Keys leaked/);
    } finally {
      await engine.api.pool.query("DELETE FROM dataflow_control.extract_checkpoints WHERE table_name = 'planted'");
    }
  }, 120_000);

  test('finds a key planted in a worker info log', async () => {
    const before = workerLogLines.length;
    Runtime.instance().logger.info('Activity completed', { headers: { Authorization: `Klaviyo-API-Key ${key}` } });
    try {
      const scan = await scanForKeys(engine, [key]);
      expect(scan.leaks.filter((l) => l.startsWith('worker log:'))).not.toEqual([]);
      expect(() => assertNoKeys(scan)).toThrow(/Keys leaked/);
    } finally {
      workerLogLines.splice(before);
    }
  }, 120_000);

  test('matches a key by its secret, a run of 8 of its characters, split across chunks, as base64 and as hex', () => {
    const k = fakeKey();
    const secret = k.slice(3);
    const cases: Record<string, string[]> = {
      secret: [`x ${secret} y`],
      run: [`prefix ${secret.slice(5, 13)} suffix`],
      split: [`chunk one ends ${k.slice(0, 20)}`, `${k.slice(20)} chunk two`],
      base64: [Buffer.from(`{"key":"${k}"}`).toString('base64')],
      base64url: [Buffer.from(`ab${secret}`).toString('base64url')],
      hex: [`\\x${Buffer.from(`k=${k}`).toString('hex')}`],
    };
    for (const [form, texts] of Object.entries(cases)) {
      expect([form, findKeyForms({ [form]: texts }, [k]).length]).toEqual([form, texts.length]);
    }
    expect(findKeyForms({ other: [fakeKey(), 'pk_…abcd', secret.slice(0, 7)] }, [k])).toEqual([]);
  });
});

describe('the value check', () => {
  test('passes on the run as it is', async () => {
    expect((await checkDataflow(engine.api.pool, engine.sandbox, NAME, TABLES)).problems).toEqual([]);
  }, 60_000);

  test.each([
    ['a text value', 'profiles', 'first_name', "first_name || 'x'"],
    ['a JSON value', 'events', 'event_properties', `event_properties || '{"planted": 1}'::jsonb`],
    ['a timestamp', 'profiles', 'updated', "updated + interval '1 second'"],
  ])(
    'fails when %s of one row is corrupted in Postgres',
    async (_what, table, column, corrupted) => {
      const relation = `controls.${table}`;
      const { rows } = await engine.api.pool.query<{ id: string }>(
        `SELECT id FROM ${relation} WHERE ${column} IS NOT NULL ORDER BY id LIMIT 1`,
      );
      const id = rows[0].id;
      const { rows: original } = await engine.api.pool.query(`SELECT ${column} AS v FROM ${relation} WHERE id = $1`, [
        id,
      ]);
      await engine.api.pool.query(`UPDATE ${relation} SET ${column} = ${corrupted} WHERE id = $1`, [id]);
      try {
        const check = await checkDataflow(engine.api.pool, engine.sandbox, NAME, TABLES);
        expect(check.wrong).toBe(1);
        expect(check.lost + check.duplicated).toBe(0);
        expect(check.problems.join('\n')).toContain(`${table} ${id}: ${column}`);
      } finally {
        await engine.api.pool.query(`UPDATE ${relation} SET ${column} = $2 WHERE id = $1`, [id, original[0].v]);
      }
    },
    60_000,
  );
});
