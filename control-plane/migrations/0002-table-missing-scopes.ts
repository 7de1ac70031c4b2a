import type { Knex } from 'knex';

/**
 * What the dataflow's key lacks to read each table, recorded when the key is validated (create, edit):
 * NULL when not recorded yet (dataflows saved before this), empty when the key can read the table.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE dataflow_control.dataflow_tables ADD COLUMN missing_scopes text[]');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE dataflow_control.dataflow_tables DROP COLUMN missing_scopes');
}
