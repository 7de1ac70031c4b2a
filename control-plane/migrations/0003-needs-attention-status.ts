import type { Knex } from 'knex';

/**
 * `NeedsAttention`: a run whose tables failed for good keeps its staged version and waits for a retry or a
 * discard. The list is written out, as in 0001, so the migration does not follow later constants.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE dataflow_control.dataflows
      DROP CONSTRAINT dataflows_status_check,
      ADD CONSTRAINT dataflows_status_check
        CHECK (status IN ('New', 'Running', 'Succeeded', 'Failed', 'Cancelled', 'NeedsAttention'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`UPDATE dataflow_control.dataflows SET status = 'Failed' WHERE status = 'NeedsAttention'`);
  await knex.raw(`
    ALTER TABLE dataflow_control.dataflows
      DROP CONSTRAINT dataflows_status_check,
      ADD CONSTRAINT dataflows_status_check CHECK (status IN ('New', 'Running', 'Succeeded', 'Failed', 'Cancelled'))`);
}
