import { randomBytes } from 'node:crypto';
import { getTable } from '../../klaviyo/catalog';
import { getDataflowById } from '../../control-plane/dataflows';
import { SchemaConflictError, VersionStateError } from '../../control-plane/errors';
import { getCheckpoint, saveCheckpoint } from '../../control-plane/extract-checkpoints';
import { withTransaction } from '../../control-plane/postgres';
import { allocateVersion, getVersion, listCommittedVersions } from '../../control-plane/versions';
import { loadBatch, versionTarget } from '../../warehouse/copy-loader';
import { entities } from '../../warehouse/entities';
import { DuplicateRowError, NothingToRollBackError, StagedTableMissingError } from '../../warehouse/errors';
import { createRowMapper } from '../../warehouse/row-mapping';
import { tableLayout, type TableLayout } from '../../warehouse/table-layout';
import { copyForwardVersion } from '../../warehouse/copy-forward';
import { addPrimaryKey, createVersionTables } from '../../warehouse/staged-tables';
import { commitVersion, discardVersion, rollbackToPrevious } from '../../warehouse/versioned-tables';
import { dropDataflowWarehouse } from '../../warehouse/warehouse-schema';
import { createScratchDatabase, type ScratchDatabase } from '../control-plane/scratch-database';

const TAGS = tableLayout(getTable('tags'));
const METRICS = tableLayout(getTable('metrics'));

describe('versioned tables', () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = await createScratchDatabase('wh');
  });
  afterAll(async () => {
    await db.drop();
  });

  interface Flow {
    id: string;
    name: string;
    schema: string;
  }

  const newDataflow = (): Promise<Flow> => db.newDataflow('Versions');

  /** Allocates and stages a version with `rows` rows per table, ids tagged with the version. */
  async function stage(flow: Flow, rows: number, layouts: TableLayout[] = [TAGS, METRICS]): Promise<number> {
    const { version } = await allocateVersion(db.pool, {
      dataflowId: flow.id,
      workflowId: 'wf',
      runId: randomBytes(4).toString('hex'),
      trigger: 'manual',
      tables: layouts.map((l) => l.table),
    });
    await createVersionTables(db.pool, { dataflowId: flow.id, schema: flow.schema, version, tables: layouts });
    await withTransaction(db.pool, async (client) => {
      for (const layout of layouts) {
        const map = createRowMapper(layout);
        const resources = Array.from({ length: rows }, (_, i) => ({
          type: 'x',
          id: `v${version}-${i}`,
          attributes: { name: `${layout.table} ${i} of v${version}` },
        }));
        await loadBatch(
          client,
          versionTarget(flow.schema, version, layout),
          resources.map((r) => map(r)),
        );
      }
    });
    return version;
  }

  async function run(
    flow: Flow,
    rows: number,
    layouts: TableLayout[] = [TAGS, METRICS],
    retain?: number,
  ): Promise<number> {
    const version = await stage(flow, rows, layouts);
    await commitVersion(db.pool, {
      dataflowId: flow.id,
      schema: flow.schema,
      version,
      tables: layouts.map((l) => ({ table: l.table, rows })),
      retain,
    });
    return version;
  }

  async function tablesIn(schema: string): Promise<string[]> {
    const { rows } = await db.pool.query<{ name: string }>(
      `SELECT c.relname || ':' || c.relkind::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'v') ORDER BY 1`,
      [schema],
    );
    return rows.map((r) => r.name);
  }

  test('staged tables are invisible to readers until the commit', async () => {
    const flow = await newDataflow();
    await stage(flow, 2);
    expect(await tablesIn(flow.schema)).toEqual(['metrics__v1:r', 'tags__v1:r']);
    expect(await entities(db.pool, flow.schema)).toEqual([]);
  });

  test('a commit points the reader views at the version and records it', async () => {
    const flow = await newDataflow();
    const version = await run(flow, 3);
    expect(await entities(db.pool, flow.schema)).toEqual([
      { table: 'metrics', view: `${flow.schema}.metrics`, rows: 3, version },
      { table: 'tags', view: `${flow.schema}.tags`, rows: 3, version },
    ]);
    const dataflow = await getDataflowById(db.pool, flow.id);
    expect(dataflow).toMatchObject({ currentVersion: version, status: 'Succeeded' });
    expect(dataflow.lastRefreshAt).toBeInstanceOf(Date);
    expect(await getVersion(db.pool, flow.id, version)).toMatchObject({
      state: 'committed',
      rows: { tags: 3, metrics: 3 },
    });
  });

  test('an empty table shows its version too', async () => {
    const flow = await newDataflow();
    const version = await run(flow, 0);
    expect((await entities(db.pool, flow.schema)).map((e) => [e.rows, e.version])).toEqual([
      [0, version],
      [0, version],
    ]);
  });

  test('committing the same version again changes nothing (a retried activity)', async () => {
    const flow = await newDataflow();
    const version = await run(flow, 1);
    const again = await commitVersion(db.pool, {
      dataflowId: flow.id,
      schema: flow.schema,
      version,
      tables: [{ table: 'tags' }],
    });
    expect(again.alreadyCommitted).toBe(true);
    expect((await entities(db.pool, flow.schema)).map((e) => e.table)).toEqual(['metrics', 'tags']);
  });

  test('retention keeps 3 committed versions and drops the 4th-oldest with its tables', async () => {
    const flow = await newDataflow();
    for (let i = 0; i < 4; i++) await run(flow, 1);
    expect(await listCommittedVersions(db.pool, flow.id)).toEqual([4, 3, 2]);
    expect(await getVersion(db.pool, flow.id, 1)).toMatchObject({ state: 'dropped' });
    expect(await tablesIn(flow.schema)).toEqual([
      'metrics:v',
      'metrics__v2:r',
      'metrics__v3:r',
      'metrics__v4:r',
      'tags:v',
      'tags__v2:r',
      'tags__v3:r',
      'tags__v4:r',
    ]);
  });

  test('retention can be one version', async () => {
    const flow = await newDataflow();
    await run(flow, 1, [TAGS], 1);
    await run(flow, 1, [TAGS], 1);
    expect(await tablesIn(flow.schema)).toEqual(['tags:v', 'tags__v2:r']);
  });

  test("a version whose table a user's view uses directly is kept past retention instead of failing the commit", async () => {
    const flow = await newDataflow();
    await run(flow, 1, [TAGS], 1);
    await db.pool.query(`CREATE VIEW ${flow.schema}.pinned AS SELECT * FROM ${flow.schema}.tags__v1`);
    const version = await stage(flow, 1, [TAGS]);
    const result = await commitVersion(db.pool, {
      dataflowId: flow.id,
      schema: flow.schema,
      version,
      tables: [{ table: 'tags', rows: 1 }],
      retain: 1,
    });
    expect(result).toMatchObject({ droppedVersions: [], keptInUse: [1] });
    expect((await entities(db.pool, flow.schema)).map((e) => e.version)).toEqual([version]);
    expect(await getVersion(db.pool, flow.id, 1)).toMatchObject({ state: 'committed' });
  });

  test('a rollback points every view at the previous version and drops the one it left', async () => {
    const flow = await newDataflow();
    await run(flow, 1);
    await run(flow, 2);
    const outcome = await rollbackToPrevious(db.pool, { dataflowId: flow.id, schema: flow.schema, requestId: 'rb-1' });
    expect(outcome).toEqual({ fromVersion: 2, toVersion: 1, tables: ['metrics', 'tags'], alreadyRolledBack: false });
    expect((await entities(db.pool, flow.schema)).map((e) => [e.rows, e.version])).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(await getVersion(db.pool, flow.id, 2)).toMatchObject({ state: 'rolled_back', rolledBackBy: 'rb-1' });
    expect(await getDataflowById(db.pool, flow.id)).toMatchObject({ currentVersion: 1 });
    expect(await tablesIn(flow.schema)).toEqual(['metrics:v', 'metrics__v1:r', 'tags:v', 'tags__v1:r']);
  });

  test('a retried rollback request does not roll back twice', async () => {
    const flow = await newDataflow();
    for (let i = 0; i < 3; i++) await run(flow, 1);
    await rollbackToPrevious(db.pool, { dataflowId: flow.id, schema: flow.schema, requestId: 'same' });
    const retried = await rollbackToPrevious(db.pool, { dataflowId: flow.id, schema: flow.schema, requestId: 'same' });
    expect(retried).toMatchObject({ fromVersion: 3, toVersion: 2, alreadyRolledBack: true });
    expect(await getDataflowById(db.pool, flow.id)).toMatchObject({ currentVersion: 2 });
  });

  test('rolling back with no earlier version kept is a clear NothingToRollBack error', async () => {
    const flow = await newDataflow();
    await expect(rollbackToPrevious(db.pool, { dataflowId: flow.id, schema: flow.schema })).rejects.toThrow(
      /has no committed version yet: nothing to roll back/,
    );
    await run(flow, 1);
    const error = await rollbackToPrevious(db.pool, { dataflowId: flow.id, schema: flow.schema }).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(NothingToRollBackError);
    expect((error as Error).message).toBe(
      `Dataflow "${flow.name}" shows version 1 and keeps no earlier committed version: nothing to roll back to.`,
    );
  });

  test('discarding a staged version drops its tables and checkpoints and leaves the live version alone', async () => {
    const flow = await newDataflow();
    await run(flow, 1);
    const staged = await stage(flow, 5);
    await saveCheckpoint(db.pool, {
      dataflowId: flow.id,
      version: staged,
      table: 'tags',
      nextUrl: 'n',
      rows: 5,
      pages: 1,
      done: false,
    });
    const outcome = await discardVersion(db.pool, { dataflowId: flow.id, schema: flow.schema, version: staged });
    expect(outcome).toEqual({ discarded: true, state: 'discarded', droppedTables: 2 });
    expect(await tablesIn(flow.schema)).toEqual(['metrics:v', 'metrics__v1:r', 'tags:v', 'tags__v1:r']);
    await expect(
      getCheckpoint(db.pool, { dataflowId: flow.id, version: staged, table: 'tags' }),
    ).resolves.toBeUndefined();
    expect((await entities(db.pool, flow.schema)).map((e) => e.version)).toEqual([1, 1]);
  });

  test('discarding a committed version touches nothing', async () => {
    const flow = await newDataflow();
    const version = await run(flow, 1);
    await expect(discardVersion(db.pool, { dataflowId: flow.id, schema: flow.schema, version })).resolves.toEqual({
      discarded: false,
      state: 'committed',
      droppedTables: 0,
    });
    expect((await entities(db.pool, flow.schema)).map((e) => e.rows)).toEqual([1, 1]);
  });

  test('a discarded version cannot be committed', async () => {
    const flow = await newDataflow();
    const version = await stage(flow, 1);
    await discardVersion(db.pool, { dataflowId: flow.id, schema: flow.schema, version });
    await expect(
      commitVersion(db.pool, { dataflowId: flow.id, schema: flow.schema, version, tables: [{ table: 'tags' }] }),
    ).rejects.toThrow(VersionStateError);
  });

  test('committing a table that was never staged is refused and changes nothing', async () => {
    const flow = await newDataflow();
    const version = await stage(flow, 1, [TAGS]);
    await expect(
      commitVersion(db.pool, {
        dataflowId: flow.id,
        schema: flow.schema,
        version,
        tables: [{ table: 'tags' }, { table: 'metrics' }],
      }),
    ).rejects.toThrow(StagedTableMissingError);
    expect(await tablesIn(flow.schema)).toEqual(['tags__v1:r']);
  });

  test('a table dropped from the selection disappears from readers with the commit', async () => {
    const flow = await newDataflow();
    await run(flow, 1, [TAGS, METRICS]);
    await run(flow, 1, [TAGS]);
    expect((await entities(db.pool, flow.schema)).map((e) => e.view)).toEqual([`${flow.schema}.tags`]);
  });

  test('a view whose columns changed is recreated with the new columns', async () => {
    const flow = await newDataflow();
    await run(flow, 1, [TAGS]);
    await run(flow, 1, [tableLayout(getTable('tags'), [])]);
    const { rows } = await db.pool.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'tags' ORDER BY ordinal_position`,
      [flow.schema],
    );
    expect(rows.map((r: { column_name: string }) => r.column_name)).toEqual([
      'id',
      'tag_group_id',
      '_version',
      '_extracted_at',
    ]);
  });

  test("a user's view built on a reader view survives a commit with the same columns", async () => {
    const flow = await newDataflow();
    await run(flow, 1, [TAGS]);
    await db.pool.query(`CREATE VIEW ${flow.schema}.my_tags AS SELECT id, name FROM ${flow.schema}.tags`);
    const version = await run(flow, 4, [TAGS]);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n, min(id) AS first FROM ${flow.schema}.my_tags`);
    expect(rows[0]).toEqual({ n: 4, first: `v${version}-0` });
  });

  test('a staged version a crashed run never discarded is dropped by the next commit', async () => {
    const flow = await newDataflow();
    const orphan = await stage(flow, 1);
    await run(flow, 1);
    expect(await getVersion(db.pool, flow.id, orphan)).toMatchObject({ state: 'discarded' });
    expect(await tablesIn(flow.schema)).toEqual(['metrics:v', 'metrics__v2:r', 'tags:v', 'tags__v2:r']);
  });

  test('copying forward brings over only the rows the new version lacks, with their original load time', async () => {
    const flow = await newDataflow();
    const first = await run(flow, 3, [TAGS]);
    const second = await stage(flow, 0, [TAGS]);
    const map = createRowMapper(TAGS);
    const copied = await withTransaction(db.pool, async (client) => {
      await loadBatch(client, versionTarget(flow.schema, second, TAGS), [
        map({ type: 'tag', id: `v${first}-1`, attributes: { name: 'changed' } }),
      ]);
      return copyForwardVersion(client, { schema: flow.schema, table: 'tags', from: first, to: second });
    });
    expect(copied).toBe(2);
    const { rows } = await db.pool.query(
      `SELECT n.id, n.name, n._version, n._extracted_at = o._extracted_at AS same_time
       FROM ${flow.schema}.tags__v${second} n JOIN ${flow.schema}.tags__v${first} o USING (id) ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 'v1-0', name: 'tags 0 of v1', _version: second, same_time: true },
      { id: 'v1-1', name: 'changed', _version: second, same_time: false },
      { id: 'v1-2', name: 'tags 2 of v1', _version: second, same_time: true },
    ]);
  });

  test("dropping a dataflow's warehouse drops its schema and says how many tables went", async () => {
    const flow = await newDataflow();
    await run(flow, 1);
    await run(flow, 1);
    await expect(dropDataflowWarehouse(db.pool, { dataflowId: flow.id, schema: flow.schema })).resolves.toEqual({
      droppedTables: 4,
      droppedDependents: [],
    });
    expect(await tablesIn(flow.schema)).toEqual([]);
    await expect(dropDataflowWarehouse(db.pool, { dataflowId: flow.id, schema: flow.schema })).resolves.toEqual({
      droppedTables: 0,
      droppedDependents: [],
    });
  });

  test("a schema that is not the dataflow's own is neither written to nor dropped", async () => {
    const flow = await newDataflow();
    const intruder = await newDataflow();
    await run(flow, 1, [TAGS]);
    await expect(dropDataflowWarehouse(db.pool, { dataflowId: intruder.id, schema: flow.schema })).rejects.toThrow(
      SchemaConflictError,
    );
    await expect(
      createVersionTables(db.pool, { dataflowId: intruder.id, schema: flow.schema, version: 9, tables: [TAGS] }),
    ).rejects.toThrow(SchemaConflictError);
    expect(await tablesIn(flow.schema)).toEqual(['tags:v', 'tags__v1:r']);
  });

  describe('a table whose key is built after the load', () => {
    async function primaryKeyOf(schema: string, table: string): Promise<string | null> {
      const { rows } = await db.pool.query<{ definition: string }>(
        `SELECT pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c
         WHERE c.conrelid = to_regclass($1) AND c.contype = 'p'`,
        [`${schema}.${table}`],
      );
      return rows[0]?.definition ?? null;
    }

    async function stageWithoutKey(flow: Flow, ids: string[]): Promise<number> {
      const { version } = await allocateVersion(db.pool, {
        dataflowId: flow.id,
        workflowId: 'wf',
        runId: randomBytes(4).toString('hex'),
        trigger: 'manual',
        tables: ['tags', 'metrics'],
      });
      await createVersionTables(db.pool, {
        dataflowId: flow.id,
        schema: flow.schema,
        version,
        tables: [TAGS, METRICS],
        keyAfterLoad: ['tags'],
      });
      const map = createRowMapper(TAGS);
      await withTransaction(db.pool, (client) =>
        loadBatch(
          client,
          versionTarget(flow.schema, version, TAGS),
          ids.map((id) => map({ type: 'tag', id, attributes: { name: id } })),
        ),
      );
      return version;
    }

    test('is created without it, gets it from addPrimaryKey, and a second call changes nothing', async () => {
      const flow = await newDataflow();
      const version = await stageWithoutKey(flow, ['a', 'b', 'c']);
      expect(await primaryKeyOf(flow.schema, `tags__v${version}`)).toBeNull();
      // Only the tables named are: the other keeps its key from the start.
      expect(await primaryKeyOf(flow.schema, `metrics__v${version}`)).toBe('PRIMARY KEY (id)');
      for (let i = 0; i < 2; i++) {
        await withTransaction(db.pool, (client) =>
          addPrimaryKey(client, { schema: flow.schema, version, definition: TAGS }),
        );
        expect(await primaryKeyOf(flow.schema, `tags__v${version}`)).toBe('PRIMARY KEY (id)');
      }
    });

    test('a repeated key fails the build with a DuplicateRowError naming the key, and leaves the table without one', async () => {
      const flow = await newDataflow();
      const version = await stageWithoutKey(flow, ['a', 'twice', 'b', 'twice']);
      await expect(
        withTransaction(db.pool, (client) => addPrimaryKey(client, { schema: flow.schema, version, definition: TAGS })),
      ).rejects.toThrow(
        new DuplicateRowError(
          `A row loaded into ${flow.schema}.tags__v${version} repeats a key. Key (id)=(twice) is duplicated.`,
        ),
      );
      expect(await primaryKeyOf(flow.schema, `tags__v${version}`)).toBeNull();
    });
  });
});
