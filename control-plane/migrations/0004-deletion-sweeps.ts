import type { Knex } from 'knex';

/**
 * What keeping a warehouse in step with Klaviyo's deletions and clock needs: the dataflow's deletion-sweep setting
 * (the values written out, as in 0001), and per version and table when its read started on Klaviyo's clock (the
 * bound of the next incremental watermark) and when it last saw every id Klaviyo has (a sweep or a full read).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE dataflow_control.dataflows
      ADD COLUMN deletion_sweep text NOT NULL DEFAULT 'daily'
        CONSTRAINT dataflows_deletion_sweep_check CHECK (deletion_sweep IN ('every-run', 'daily', 'weekly', 'off'));
    ALTER TABLE dataflow_control.dataflow_versions ADD COLUMN reads jsonb NOT NULL DEFAULT '{}'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE dataflow_control.dataflow_versions DROP COLUMN reads;
    ALTER TABLE dataflow_control.dataflows DROP COLUMN deletion_sweep`);
}
