/**
 * The Postgres schema of the control plane. It has an underscore, which a dataflow name never has,
 * so no dataflow's warehouse schema can ever collide with it.
 */
export const CONTROL_SCHEMA = 'dataflow_control';

/** Qualified table names, for SQL text. */
export const CONTROL_TABLES = {
  dataflows: `${CONTROL_SCHEMA}.dataflows`,
  dataflowTables: `${CONTROL_SCHEMA}.dataflow_tables`,
  versions: `${CONTROL_SCHEMA}.dataflow_versions`,
  checkpoints: `${CONTROL_SCHEMA}.extract_checkpoints`,
  locks: `${CONTROL_SCHEMA}.operation_locks`,
} as const;
