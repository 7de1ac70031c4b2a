import knexFactory, { type Knex } from 'knex';
import { CONTROL_SCHEMA } from './control-schema';
import * as controlPlane0001 from './migrations/0001-control-plane';
import * as tableMissingScopes0002 from './migrations/0002-table-missing-scopes';
import * as needsAttentionStatus0003 from './migrations/0003-needs-attention-status';
import * as deletionSweeps0004 from './migrations/0004-deletion-sweeps';
import * as reportQuota0005 from './migrations/0005-report-quota';

interface NamedMigration {
  name: string;
  migration: Knex.Migration;
}

/**
 * Migrations are imported, not discovered on disk: the list works the same under tsx, jest and the
 * compiled build, and needs no knexfile or CLI. Append new ones; never rename or edit applied ones.
 */
const MIGRATIONS: readonly NamedMigration[] = [
  { name: '0001-control-plane', migration: controlPlane0001 },
  { name: '0002-table-missing-scopes', migration: tableMissingScopes0002 },
  { name: '0003-needs-attention-status', migration: needsAttentionStatus0003 },
  { name: '0004-deletion-sweeps', migration: deletionSweeps0004 },
  { name: '0005-report-quota', migration: reportQuota0005 },
];

export const migrationSource: Knex.MigrationSource<NamedMigration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (entry) => entry.name,
  getMigration: async (entry) => entry.migration,
};

/** Serialises schema creation and migrations across processes starting at the same time. */
const MIGRATION_ADVISORY_LOCK = 'dataflow_control.migrations';

/**
 * Brings the control plane of the database at `databaseUrl` up to date: creates the schema
 * `dataflow_control` and runs the pending migrations. Safe to call from several processes at once.
 * @returns the names of the migrations it applied (empty when already up to date).
 */
export async function migrateToLatest(databaseUrl: string): Promise<string[]> {
  // One connection, so the session-level advisory lock covers every statement knex runs.
  const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 1, max: 1 } });
  try {
    await knex.raw('SELECT pg_advisory_lock(hashtext(?))', [MIGRATION_ADVISORY_LOCK]);
    try {
      await knex.raw(`CREATE SCHEMA IF NOT EXISTS ${CONTROL_SCHEMA}`);
      const [, applied] = (await knex.migrate.latest({
        migrationSource,
        schemaName: CONTROL_SCHEMA,
        tableName: 'knex_migrations',
      })) as [number, string[]];
      return applied;
    } finally {
      await knex.raw('SELECT pg_advisory_unlock(hashtext(?))', [MIGRATION_ADVISORY_LOCK]);
    }
  } finally {
    await knex.destroy();
  }
}
