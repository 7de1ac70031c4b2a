import { randomBytes } from 'node:crypto';
import { getTable } from '../../klaviyo/catalog';
import { createDataflow } from '../../control-plane/dataflows';
import { getCheckpoint, saveCheckpoint } from '../../control-plane/extract-checkpoints';
import { SecretBox } from '../../control-plane/secret-box';
import { allocateVersion } from '../../control-plane/versions';
import { loadBatch, versionTarget } from '../../warehouse/copy-loader';
import type { Cell } from '../../warehouse/copy-text';
import { DuplicateRowError, InvalidIdentifierError } from '../../warehouse/errors';
import { createRowMapper } from '../../warehouse/row-mapping';
import { tableLayout, type TableDefinition } from '../../warehouse/table-layout';
import { createVersionTables } from '../../warehouse/staged-tables';
import { createScratchDatabase, type ScratchDatabase } from '../control-plane/scratch-database';

const SCHEMA = 'copytest';

/** One column of each type, with names that are SQL keywords (they must be quoted to work at all). */
const HOSTILE: TableDefinition = {
  table: 'hostile',
  columns: [
    { name: 'id', type: 'text' },
    { name: 'default', type: 'text' },
    { name: 'select', type: 'jsonb' },
    { name: 'numeric', type: 'numeric' },
    { name: 'user', type: 'bigint' },
    { name: 'true', type: 'boolean' },
    { name: 'timestamp', type: 'timestamptz' },
  ],
  primaryKey: ['id'],
};

const LONG = `${'x'.repeat(50_000)}\t\n\\${'é'.repeat(50_000)}`;

/** [cell sent, value expected back] for the text column. */
const TEXTS: Array<[string | null, string | null]> = [
  [`'single' "double" ""twice""`, `'single' "double" ""twice""`],
  ['C:\\path\\to\\file\\', 'C:\\path\\to\\file\\'],
  ['\\N', '\\N'],
  ['\\.', '\\.'],
  ['before\n\\.\nafter', 'before\n\\.\nafter'],
  ['a\tb\tc', 'a\tb\tc'],
  ['line1\nline2\r\nline3\rline4', 'line1\nline2\r\nline3\rline4'],
  ['😀👩‍👩‍👧 עברית e\u0301 \u2028\u2029', '😀👩‍👩‍👧 עברית e\u0301 \u2028\u2029'],
  ['\u0001\u001f\u007f', '\u0001\u001f\u007f'],
  ['00123', '00123'],
  ['1e5', '1e5'],
  ['NaN', 'NaN'],
  ['', ''],
  [null, null],
  ['nul\u0000here', 'nul\uFFFDhere'],
  ['lone \ud800 surrogate', 'lone \uFFFD surrogate'],
  [LONG, LONG],
];

/** [cell sent, value expected back] for the jsonb column. */
const JSONS: Array<[unknown, unknown]> = [
  [
    { $value: 12.5, $event_id: 'e-1', $extra: { $nested: ['$', '$$'] } },
    { $value: 12.5, $event_id: 'e-1', $extra: { $nested: ['$', '$$'] } },
  ],
  [
    { 'we"ird\tkey\\': 'v\nv', '': 'empty key', '😀': '🚀' },
    { 'we"ird\tkey\\': 'v\nv', '': 'empty key', '😀': '🚀' },
  ],
  [
    { a: 'x\u0000y', 'k\u0000': 1 },
    { a: 'x\uFFFDy', 'k\uFFFD': 1 },
  ],
  [{ text: '\\u0000 is only text here' }, { text: '\\u0000 is only text here' }],
  ['just a string with "quotes"', 'just a string with "quotes"'],
  [
    [1, 'two', null, true, { three: 3 }],
    [1, 'two', null, true, { three: 3 }],
  ],
  [{ long: LONG }, { long: LONG }],
  [false, false],
  [null, null],
];

describe('COPY loading', () => {
  let db: ScratchDatabase;
  let dataflowId: string;
  let version: number;

  beforeAll(async () => {
    db = await createScratchDatabase('wh');
    const created = await createDataflow(db.pool, SecretBox.fromKey(randomBytes(32)), {
      name: 'CopyTest',
      apiKey: 'pk_abcdefghijklmnopqrstuvwxyz01234567',
      tables: [],
    });
    dataflowId = created.id;
    ({ version } = await allocateVersion(db.pool, {
      dataflowId,
      workflowId: 'wf',
      runId: 'r',
      trigger: 'manual',
      tables: [],
    }));
    await createVersionTables(db.pool, {
      dataflowId,
      schema: SCHEMA,
      version,
      tables: [
        HOSTILE,
        { ...HOSTILE, table: 'hostile_jsonb' },
        { ...HOSTILE, table: 'dupes' },
        tableLayout(getTable('events')),
      ],
    });
  });
  afterAll(async () => {
    await db.drop();
  });

  async function inTransaction<T>(fn: (client: import('pg').PoolClient) => Promise<T>, commit = true): Promise<T> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  test('hostile text values round-trip exactly (U+0000 and lone surrogates become U+FFFD)', async () => {
    const target = versionTarget(SCHEMA, version, HOSTILE);
    const rows: Cell[][] = TEXTS.map(([text], i) => [
      `t${String(i).padStart(2, '0')}`,
      text,
      null,
      null,
      null,
      null,
      null,
    ]);
    const result = await inTransaction((client) => loadBatch(client, target, rows));
    expect(result.rows).toBe(TEXTS.length);
    const back = await db.pool.query<{ default: string | null }>(
      `SELECT "default" FROM copytest.hostile__v${version} ORDER BY id`,
    );
    expect(back.rows.map((r) => r.default)).toEqual(TEXTS.map(([, expected]) => expected));
  });

  test('hostile jsonb values round-trip exactly, $ keys included (a JS null is SQL NULL)', async () => {
    const target = versionTarget(SCHEMA, version, { ...HOSTILE, table: 'hostile_jsonb' });
    const rows: Cell[][] = JSONS.map(([json], i) => [
      `j${String(i).padStart(2, '0')}`,
      null,
      json as Cell,
      null,
      null,
      null,
      null,
    ]);
    await inTransaction((client) => loadBatch(client, target, rows));
    const back = await db.pool.query<{ select: unknown }>(
      `SELECT "select" FROM copytest.hostile_jsonb__v${version} ORDER BY id`,
    );
    expect(back.rows.map((r) => r.select)).toEqual(JSONS.map(([, expected]) => expected));
  });

  test('numbers, booleans and timestamps keep their exact values', async () => {
    const target = versionTarget(SCHEMA, version, HOSTILE);
    const row: Cell[] = [
      'typed',
      'x',
      null,
      '12345678901234567890.123456789',
      '9223372036854775807',
      false,
      '2024-01-02T03:04:05.123456Z',
    ];
    await inTransaction((client) => loadBatch(client, target, [row]));
    const { rows } = await db.pool.query(
      `SELECT "numeric"::text AS n, "user"::text AS b, "true" AS f, "timestamp" = '2024-01-02T03:04:05.123456Z' AS same_time,
              _version, _extracted_at IS NOT NULL AS stamped
       FROM copytest.hostile__v${version} WHERE id = 'typed'`,
    );
    expect(rows[0]).toEqual({
      n: '12345678901234567890.123456789',
      b: '9223372036854775807',
      f: false,
      same_time: true,
      _version: version,
      stamped: true,
    });
  });

  test('rows and the checkpoint that accounts for them commit or roll back together', async () => {
    const definition: TableDefinition = { ...HOSTILE, table: 'hostile' };
    const target = versionTarget(SCHEMA, version, definition);
    const batch = (id: string): Cell[][] => [[id, 'v', null, null, null, null, null]];
    const checkpoint = (rows: number) => ({
      dataflowId,
      version,
      table: 'hostile',
      nextUrl: `page-${rows}`,
      rows,
      pages: 1,
      done: false,
    });

    await inTransaction(async (client) => {
      await loadBatch(client, target, batch('rolled-back'));
      await saveCheckpoint(client, checkpoint(1));
    }, false);
    expect((await db.pool.query(`SELECT 1 FROM copytest.hostile__v${version} WHERE id = 'rolled-back'`)).rowCount).toBe(
      0,
    );
    await expect(getCheckpoint(db.pool, { dataflowId, version, table: 'hostile' })).resolves.toBeUndefined();

    await inTransaction(async (client) => {
      await loadBatch(client, target, batch('committed'));
      await saveCheckpoint(client, checkpoint(2));
    });
    expect((await db.pool.query(`SELECT 1 FROM copytest.hostile__v${version} WHERE id = 'committed'`)).rowCount).toBe(
      1,
    );
    await expect(getCheckpoint(db.pool, { dataflowId, version, table: 'hostile' })).resolves.toMatchObject({ rows: 2 });
  });

  test('a repeated key fails the batch with a DuplicateRowError naming the key', async () => {
    const target = versionTarget(SCHEMA, version, { ...HOSTILE, table: 'dupes' });
    const row: Cell[] = ['same', 'a', null, null, null, null, null];
    await expect(inTransaction((client) => loadBatch(client, target, [row, row]))).rejects.toThrow(
      new DuplicateRowError('A row loaded into copytest.dupes__v1 repeats a key. Key (id)=(same) already exists.'),
    );
  });

  test('in replace mode the last row of a key wins, in the batch and over the table', async () => {
    const target = versionTarget(SCHEMA, version, { ...HOSTILE, table: 'dupes' });
    const row = (id: string, text: string): Cell[] => [id, text, null, null, null, null, null];
    await inTransaction((client) => loadBatch(client, target, [row('k1', 'old'), row('k2', 'kept')]));
    const result = await inTransaction((client) =>
      loadBatch(client, target, [row('k1', 'newer'), row('k1', 'newest'), row('k3', 'added')], {
        onDuplicate: 'replace',
      }),
    );
    expect(result.rows).toBe(2);
    const { rows } = await db.pool.query(`SELECT id, "default" AS text FROM copytest.dupes__v${version} ORDER BY id`);
    expect(rows).toEqual([
      { id: 'k1', text: 'newest' },
      { id: 'k2', text: 'kept' },
      { id: 'k3', text: 'added' },
    ]);
  });

  test('mapped Klaviyo events load into their layout', async () => {
    const layout = tableLayout(getTable('events'));
    const map = createRowMapper(layout);
    const rows = [1, 2].map((n) =>
      map({
        type: 'event',
        id: `E${n}`,
        attributes: {
          timestamp: 1700000000 + n,
          event_properties: { $value: n },
          datetime: '2023-11-14T22:13:20Z',
          uuid: `u${n}`,
        },
        relationships: {
          profile: { data: { type: 'profile', id: 'P1' } },
          metric: { data: { type: 'metric', id: 'M1' } },
        },
      }),
    );
    await inTransaction((client) => loadBatch(client, versionTarget(SCHEMA, version, layout), rows));
    const { rows: back } = await db.pool.query(
      `SELECT id, profile_id, metric_id, "timestamp"::text AS ts, event_properties FROM copytest.events__v${version} ORDER BY id`,
    );
    expect(back).toEqual([
      { id: 'E1', profile_id: 'P1', metric_id: 'M1', ts: '1700000001', event_properties: { $value: 1 } },
      { id: 'E2', profile_id: 'P1', metric_id: 'M1', ts: '1700000002', event_properties: { $value: 2 } },
    ]);
  });

  test('a hostile column name is refused before any SQL runs', async () => {
    const hostile: TableDefinition = {
      table: 'injected',
      columns: [
        { name: 'id', type: 'text' },
        { name: 'x"; DROP TABLE copytest.hostile__v1; --', type: 'text' },
      ],
      primaryKey: ['id'],
    };
    await expect(
      createVersionTables(db.pool, { dataflowId, schema: SCHEMA, version, tables: [hostile] }),
    ).rejects.toThrow(InvalidIdentifierError);
    const { rows } = await db.pool.query(
      `SELECT to_regclass('copytest.hostile__v${version}') IS NOT NULL AS still_there`,
    );
    expect(rows[0].still_there).toBe(true);
  });

  test('a COPY target that is not a per-version table is refused', async () => {
    await expect(
      inTransaction((client) =>
        loadBatch(
          client,
          { schema: SCHEMA, table: 'hostile; DROP', columns: [{ name: 'id', type: 'text' }], primaryKey: ['id'] },
          [['x']],
        ),
      ),
    ).rejects.toThrow(InvalidIdentifierError);
  });
});
