import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { getTable } from '../../klaviyo/catalog';
import { createDataflow } from '../../control-plane/dataflows';
import { withTransaction } from '../../control-plane/postgres';
import { SecretBox } from '../../control-plane/secret-box';
import { allocateVersion } from '../../control-plane/versions';
import { loadBatch, versionTarget } from '../../warehouse/copy-loader';
import { createRowMapper } from '../../warehouse/row-mapping';
import { tableLayout } from '../../warehouse/table-layout';
import { createVersionTables } from '../../warehouse/staged-tables';
import { commitVersion, rollbackToPrevious } from '../../warehouse/versioned-tables';
import { createScratchDatabase, type ScratchDatabase } from '../control-plane/scratch-database';

const LAYOUTS = ['metrics', 'tag_groups', 'tags'].map((name) => tableLayout(getTable(name)));
const COMMITS = 8;

describe('atomic commits', () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = await createScratchDatabase('wh');
  });
  afterAll(async () => {
    await db.drop();
  });

  test('readers querying every view in one statement never see two versions at once, while commits and a rollback happen', async () => {
    const created = await createDataflow(db.pool, SecretBox.fromKey(randomBytes(32)), {
      name: 'Atomic',
      apiKey: 'pk_abcdefghijklmnopqrstuvwxyz01234567',
      tables: [],
    });
    const flow = { id: created.id, schema: 'atomic' };

    async function runVersion(): Promise<void> {
      const { version } = await allocateVersion(db.pool, {
        dataflowId: flow.id,
        workflowId: 'wf',
        runId: randomBytes(4).toString('hex'),
        trigger: 'manual',
        tables: LAYOUTS.map((l) => l.table),
      });
      await createVersionTables(db.pool, { dataflowId: flow.id, schema: flow.schema, version, tables: LAYOUTS });
      await withTransaction(db.pool, async (client) => {
        for (const layout of LAYOUTS) {
          const map = createRowMapper(layout);
          const rows = Array.from({ length: 200 }, (_, i) => map({ type: 'x', id: `${version}-${i}` }));
          await loadBatch(client, versionTarget(flow.schema, version, layout), rows);
        }
      });
      await commitVersion(db.pool, {
        dataflowId: flow.id,
        schema: flow.schema,
        version,
        tables: LAYOUTS.map((l) => ({ table: l.table, rows: 200 })),
      });
    }

    await runVersion();
    // Two statement shapes, touching the views in opposite orders, to provoke lock-order trouble.
    const statements = [
      `SELECT (SELECT array_agg(DISTINCT _version) FROM atomic.metrics) AS a,
              (SELECT array_agg(DISTINCT _version) FROM atomic.tag_groups) AS b,
              (SELECT array_agg(DISTINCT _version) FROM atomic.tags) AS c`,
      `SELECT (SELECT array_agg(DISTINCT _version) FROM atomic.tags) AS a,
              (SELECT array_agg(DISTINCT _version) FROM atomic.tag_groups) AS b,
              (SELECT array_agg(DISTINCT _version) FROM atomic.metrics) AS c`,
    ];
    let done = false;
    const seen = new Set<number>();
    const mixes: string[] = [];
    let reads = 0;
    const readers = Array.from({ length: 3 }, async (_, reader) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        while (!done) {
          const { rows } = await client.query<{ a: number[]; b: number[]; c: number[] }>(statements[reader % 2]);
          const versions = new Set([...rows[0].a, ...rows[0].b, ...rows[0].c]);
          if (versions.size !== 1) mixes.push(JSON.stringify(rows[0]));
          for (const v of versions) seen.add(v);
          reads++;
        }
      } finally {
        await client.end();
      }
    });

    try {
      for (let i = 1; i < COMMITS; i++) await runVersion();
      await rollbackToPrevious(db.pool, { dataflowId: flow.id, schema: flow.schema });
    } finally {
      done = true;
      await Promise.all(readers);
    }
    console.log(
      `atomic commits: ${reads} reader statements, versions seen ${[...seen].sort((a, b) => a - b).join(',')}`,
    );
    expect(mixes).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });
});
