import { randomBytes } from 'node:crypto';
import { getTable } from '../../klaviyo/catalog';
import { allocateVersion } from '../../control-plane/versions';
import { DependentObjectsError } from '../../warehouse/errors';
import { tableLayout } from '../../warehouse/table-layout';
import { createVersionTables } from '../../warehouse/staged-tables';
import { commitVersion } from '../../warehouse/versioned-tables';
import { dependentsOfDataflowWarehouse, dropDataflowWarehouse } from '../../warehouse/warehouse-schema';
import { createScratchDatabase, type ScratchDatabase } from '../control-plane/scratch-database';

/**
 * Removing a dataflow drops only what it created: objects users built on its tables, or put in its schema, refuse
 * the removal by name (nothing dropped), or go too when asked to cascade.
 */
const TAGS = tableLayout(getTable('tags'));
const METRICS = tableLayout(getTable('metrics'));

let db: ScratchDatabase;

beforeAll(async () => {
  db = await createScratchDatabase('rmdeps');
});
afterAll(async () => {
  await db.drop();
});

interface Flow {
  dataflowId: string;
  schema: string;
}

/** A dataflow with one committed version of tags and metrics: acme.tags and acme.metrics over tags__v1, metrics__v1. */
async function committedDataflow(): Promise<Flow> {
  const created = await db.newDataflow('Removed');
  const flow = { dataflowId: created.id, schema: created.schema };
  const { version } = await allocateVersion(db.pool, {
    dataflowId: flow.dataflowId,
    workflowId: 'wf',
    runId: randomBytes(4).toString('hex'),
    trigger: 'manual',
    tables: ['tags', 'metrics'],
  });
  await createVersionTables(db.pool, { ...flow, version, tables: [TAGS, METRICS] });
  await commitVersion(db.pool, {
    ...flow,
    version,
    tables: [
      { table: 'tags', rows: 0 },
      { table: 'metrics', rows: 0 },
    ],
  });
  return flow;
}

async function exists(qualified: string): Promise<boolean> {
  const { rows } = await db.pool.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [qualified]);
  return rows[0].found;
}

async function schemaExists(schema: string): Promise<boolean> {
  const { rowCount } = await db.pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return rowCount === 1;
}

test("a user's view in public on a reader view refuses the removal, names it, and nothing is dropped", async () => {
  const flow = await committedDataflow();
  await db.pool.query(`CREATE VIEW public.vip_${flow.schema} AS SELECT id FROM ${flow.schema}.tags`);
  const expected = `The view public.vip_${flow.schema} depends on ${flow.schema}.tags; drop it first, or remove with --cascade to drop it too. Nothing was removed.`;
  await expect(dependentsOfDataflowWarehouse(db.pool, flow)).resolves.toEqual([
    { kind: 'view', name: `public.vip_${flow.schema}`, dependsOn: `${flow.schema}.tags` },
  ]);
  const refusal = await dropDataflowWarehouse(db.pool, flow).catch((err: unknown) => err);
  expect(refusal).toBeInstanceOf(DependentObjectsError);
  expect((refusal as Error).message).toBe(expected);
  expect((refusal as DependentObjectsError).dependents).toEqual([`view public.vip_${flow.schema}`]);
  for (const name of ['tags', 'metrics', 'tags__v1', 'metrics__v1']) {
    expect(await exists(`${flow.schema}.${name}`)).toBe(true);
  }
  expect(await exists(`public.vip_${flow.schema}`)).toBe(true);
});

test('cascade drops the dependent view too, and says so', async () => {
  const flow = await committedDataflow();
  await db.pool.query(`CREATE VIEW public.vip_${flow.schema} AS SELECT id FROM ${flow.schema}.tags`);
  await expect(dropDataflowWarehouse(db.pool, { ...flow, cascade: true })).resolves.toEqual({
    droppedTables: 2,
    droppedDependents: [`view public.vip_${flow.schema}`],
  });
  expect(await exists(`public.vip_${flow.schema}`)).toBe(false);
  expect(await schemaExists(flow.schema)).toBe(false);
});

test("users' objects in the dataflow's own schema, or on a per-version table, are named too", async () => {
  const flow = await committedDataflow();
  await db.pool.query(`CREATE TABLE ${flow.schema}.notes (id text)`);
  await db.pool.query(`CREATE VIEW ${flow.schema}.metric_names AS SELECT id FROM ${flow.schema}.metrics`);
  await db.pool.query(`CREATE VIEW public.raw_${flow.schema} AS SELECT id FROM ${flow.schema}.tags__v1`);
  await db.pool.query(`CREATE TABLE public.refs_${flow.schema} (id text REFERENCES ${flow.schema}.tags__v1 (id))`);
  const dependents = await dependentsOfDataflowWarehouse(db.pool, flow);
  expect(dependents).toEqual(
    expect.arrayContaining([
      { kind: 'table', name: `${flow.schema}.notes`, dependsOn: null },
      { kind: 'view', name: `${flow.schema}.metric_names`, dependsOn: `${flow.schema}.metrics` },
      { kind: 'view', name: `public.raw_${flow.schema}`, dependsOn: `${flow.schema}.tags__v1` },
      { kind: 'table', name: `public.refs_${flow.schema}`, dependsOn: `${flow.schema}.tags__v1` },
    ]),
  );
  expect(dependents).toHaveLength(4);
  const refusal = (await dropDataflowWarehouse(db.pool, flow).catch((err: unknown) => err)) as Error;
  expect(refusal).toBeInstanceOf(DependentObjectsError);
  expect(refusal.message).toContain(`the table ${flow.schema}.notes (not created by the dataflow) is in its schema`);
  expect(refusal.message).toMatch(
    /drop them first, or remove with --cascade to drop them too\. Nothing was removed\.$/,
  );
  expect(await exists(`${flow.schema}.tags__v1`)).toBe(true);
  expect(await exists(`${flow.schema}.notes`)).toBe(true);
});

test('with nothing of anyone else around, only what the dataflow created is dropped, without cascade', async () => {
  const flow = await committedDataflow();
  // A user's view on something else entirely is not the dataflow's business.
  await db.pool.query(`CREATE TABLE public.other_${flow.schema} (id int)`);
  await db.pool.query(`CREATE VIEW public.other_view_${flow.schema} AS SELECT id FROM public.other_${flow.schema}`);
  await expect(dependentsOfDataflowWarehouse(db.pool, flow)).resolves.toEqual([]);
  await expect(dropDataflowWarehouse(db.pool, flow)).resolves.toEqual({ droppedTables: 2, droppedDependents: [] });
  expect(await schemaExists(flow.schema)).toBe(false);
  expect(await exists(`public.other_view_${flow.schema}`)).toBe(true);
});
