import type { Knex } from 'knex';

/**
 * The control plane: dataflows, their table selection, versions, extraction checkpoints and the
 * one-operation-per-dataflow lock. Plain SQL so constraints read as they are enforced; lists in
 * CHECKs are written out because a migration must not change when application constants do.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE dataflow_control.dataflows (
      id uuid PRIMARY KEY,
      name text NOT NULL CONSTRAINT dataflows_name_format CHECK (name ~ '^[A-Za-z][A-Za-z0-9]{0,39}$'),
      display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
      description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
      connector_type text NOT NULL DEFAULT 'Klaviyo' CHECK (connector_type IN ('Klaviyo')),
      base_url text NOT NULL,
      api_key_encrypted bytea NOT NULL,
      api_key_hint text NOT NULL CHECK (char_length(api_key_hint) <= 4),
      account_id text,
      status text NOT NULL DEFAULT 'New'
        CHECK (status IN ('New', 'Running', 'Succeeded', 'Failed', 'Cancelled')),
      last_error text,
      schedule text,
      current_version integer,
      last_version integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      last_refresh_at timestamptz
    );
    CREATE UNIQUE INDEX dataflows_name_lower_key ON dataflow_control.dataflows (lower(name));

    CREATE TABLE dataflow_control.dataflow_tables (
      dataflow_id uuid NOT NULL REFERENCES dataflow_control.dataflows (id) ON DELETE CASCADE,
      table_name text NOT NULL,
      purpose text NOT NULL CHECK (purpose IN ('Data', 'Metadata')),
      selected boolean NOT NULL DEFAULT true,
      selected_fields text[] NOT NULL DEFAULT '{}',
      available_fields jsonb NOT NULL DEFAULT '[]',
      PRIMARY KEY (dataflow_id, table_name)
    );

    CREATE TABLE dataflow_control.dataflow_versions (
      dataflow_id uuid NOT NULL REFERENCES dataflow_control.dataflows (id) ON DELETE CASCADE,
      version integer NOT NULL CHECK (version > 0),
      state text NOT NULL DEFAULT 'staging'
        CHECK (state IN ('staging', 'committed', 'discarded', 'dropped', 'rolled_back')),
      workflow_id text,
      run_id text,
      trigger text CHECK (trigger IN ('manual', 'schedule', 'retry')),
      tables text[] NOT NULL DEFAULT '{}',
      rows jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      committed_at timestamptz,
      ended_at timestamptz,
      rolled_back_by text,
      PRIMARY KEY (dataflow_id, version)
    );
    CREATE UNIQUE INDEX dataflow_versions_run_key
      ON dataflow_control.dataflow_versions (dataflow_id, workflow_id, run_id) WHERE run_id IS NOT NULL;

    CREATE TABLE dataflow_control.extract_checkpoints (
      dataflow_id uuid NOT NULL,
      version integer NOT NULL,
      table_name text NOT NULL,
      part text NOT NULL DEFAULT '',
      next_url text,
      rows bigint NOT NULL DEFAULT 0,
      pages integer NOT NULL DEFAULT 0,
      done boolean NOT NULL DEFAULT false,
      state jsonb,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (dataflow_id, version, table_name, part),
      FOREIGN KEY (dataflow_id, version)
        REFERENCES dataflow_control.dataflow_versions (dataflow_id, version) ON DELETE CASCADE
    );

    CREATE TABLE dataflow_control.operation_locks (
      dataflow_id uuid PRIMARY KEY REFERENCES dataflow_control.dataflows (id) ON DELETE CASCADE,
      workflow_id text NOT NULL,
      operation text NOT NULL CHECK (operation IN ('run', 'rollback', 'remove')),
      since timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE dataflow_control.operation_locks;
    DROP TABLE dataflow_control.extract_checkpoints;
    DROP TABLE dataflow_control.dataflow_versions;
    DROP TABLE dataflow_control.dataflow_tables;
    DROP TABLE dataflow_control.dataflows;
  `);
}
