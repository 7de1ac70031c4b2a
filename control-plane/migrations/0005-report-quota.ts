import type { Knex } from 'knex';

/**
 * Klaviyo's daily Reporting API quota, shared by every run and worker on the same database (report-quota.ts): the
 * requests spent per account, and until when Klaviyo said the quota is spent (a 429 asking to wait hours). Logged
 * tables, unlike the rate leases: a day's spend is worth keeping across a Postgres restart. And the dataflow's
 * report settings: the conversion metric of campaign and flow reports (null: the account's "Placed Order") and the
 * attribution window a refresh re-reads.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE dataflow_control.report_quota_accounts (
      account text PRIMARY KEY,
      exhausted_until timestamptz
    );
    CREATE TABLE dataflow_control.report_quota_spends (
      id bigserial PRIMARY KEY,
      account text NOT NULL REFERENCES dataflow_control.report_quota_accounts (account) ON DELETE CASCADE,
      spent_at timestamptz NOT NULL,
      dataflow_id uuid
    );
    CREATE INDEX report_quota_spends_account ON dataflow_control.report_quota_spends (account, spent_at);
    ALTER TABLE dataflow_control.dataflows
      ADD COLUMN conversion_metric text,
      ADD COLUMN attribution_window_days integer NOT NULL DEFAULT 5
        CONSTRAINT dataflows_attribution_window_days_check CHECK (attribution_window_days BETWEEN 1 AND 90)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE dataflow_control.dataflows DROP COLUMN attribution_window_days, DROP COLUMN conversion_metric;
    DROP TABLE dataflow_control.report_quota_spends;
    DROP TABLE dataflow_control.report_quota_accounts`);
}
