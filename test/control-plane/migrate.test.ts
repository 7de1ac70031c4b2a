import { migrateToLatest } from '../../control-plane/migrate';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database';

describe('control-plane migrations', () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = await createScratchDatabase('cp', { migrate: false });
  });
  afterAll(async () => {
    await db.drop();
  });

  test('processes migrating a fresh database at the same time apply each migration once', async () => {
    const applied = await Promise.all([migrateToLatest(db.url), migrateToLatest(db.url), migrateToLatest(db.url)]);
    expect(applied.flat()).toEqual([
      '0001-control-plane',
      '0002-table-missing-scopes',
      '0003-needs-attention-status',
      '0004-deletion-sweeps',
      '0005-report-quota',
    ]);
    const missingScopes = await db.pool.query(
      `SELECT data_type FROM information_schema.columns
       WHERE table_schema = 'dataflow_control' AND table_name = 'dataflow_tables' AND column_name = 'missing_scopes'`,
    );
    expect(missingScopes.rows).toEqual([{ data_type: 'ARRAY' }]);
    const sweeps = await db.pool.query(
      `SELECT table_name, column_name, column_default FROM information_schema.columns
       WHERE table_schema = 'dataflow_control' AND column_name IN ('deletion_sweep', 'reads') ORDER BY 1`,
    );
    expect(sweeps.rows).toEqual([
      { table_name: 'dataflow_versions', column_name: 'reads', column_default: "'{}'::jsonb" },
      { table_name: 'dataflows', column_name: 'deletion_sweep', column_default: "'daily'::text" },
    ]);
    const { rows } = await db.pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'dataflow_control' ORDER BY 1`,
    );
    expect(rows.map((r: { table_name: string }) => r.table_name)).toEqual([
      'dataflow_tables',
      'dataflow_versions',
      'dataflows',
      'extract_checkpoints',
      'knex_migrations',
      'knex_migrations_lock',
      'operation_locks',
      'report_quota_accounts',
      'report_quota_spends',
    ]);
  });

  test('migrating an up-to-date database applies nothing', async () => {
    await expect(migrateToLatest(db.url)).resolves.toEqual([]);
  });
});
