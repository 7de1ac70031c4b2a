import type { Trigger } from '../shared/operations';
import { CONTROL_TABLES } from './control-schema';
import { DataflowNotFoundError } from './errors';
import { camelCased, PG_ERRORS, pgErrorCode, type Queryable } from './postgres';

/**
 * The life of a version: `staging` while it is extracted, `committed` once readers may see it,
 * then `dropped` when retention removes its tables; `discarded` when its run failed; `rolled_back`
 * when a rollback moved readers off it (its tables are dropped, so it never comes back by accident).
 */
export const VERSION_STATES = ['staging', 'committed', 'discarded', 'dropped', 'rolled_back'] as const;
export type VersionState = (typeof VERSION_STATES)[number];

/**
 * How a version's table was read, for the next incremental refresh built on it: when the read started on Klaviyo's
 * clock (its `Date` header), which bounds the next watermark, and when it last saw every id Klaviyo had (a deletion
 * sweep, or a full read), on the worker's clock because the sweep cadence is wall time.
 */
export interface TableRead {
  /** ISO 8601 */
  readStartedAt: string;
  /** ISO 8601; null when no complete listing is known (a version from before sweeps, never swept since). */
  sweptAt: string | null;
}

export interface VersionRecord {
  dataflowId: string;
  version: number;
  state: VersionState;
  workflowId: string | null;
  runId: string | null;
  trigger: Trigger | null;
  /** The tables the run staged. */
  tables: string[];
  /** Rows per table, recorded at commit. */
  rows: Record<string, number>;
  /** Per table, as each extraction recorded it; tables of versions from before this was recorded are absent. */
  reads: Record<string, TableRead>;
  createdAt: Date;
  committedAt: Date | null;
  /** When it was discarded, dropped or rolled back. */
  endedAt: Date | null;
  rolledBackBy: string | null;
}

interface VersionRow {
  dataflow_id: string;
  version: number;
  state: VersionState;
  workflow_id: string | null;
  run_id: string | null;
  trigger: Trigger | null;
  tables: string[];
  rows: Record<string, number>;
  reads: Record<string, TableRead> | undefined;
  created_at: Date;
  committed_at: Date | null;
  ended_at: Date | null;
  rolled_back_by: string | null;
}

export interface AllocateVersionInput {
  dataflowId: string;
  workflowId: string;
  runId: string;
  trigger: Trigger;
  tables: readonly string[];
}

/**
 * Allocates the next version number of a dataflow, atomically (numbers are never reused, whatever
 * state earlier versions ended in). Idempotent per workflow run: a retried call of the same run gets
 * the same version back, with `reused: true`. @throws DataflowNotFoundError
 */
export async function allocateVersion(
  db: Queryable,
  input: AllocateVersionInput,
): Promise<VersionRecord & { reused: boolean }> {
  const sql = `
    WITH existing AS (
      SELECT * FROM ${CONTROL_TABLES.versions}
      WHERE dataflow_id = $1 AND workflow_id = $2 AND run_id = $3
    ), bumped AS (
      UPDATE ${CONTROL_TABLES.dataflows} SET last_version = last_version + 1
      WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM existing)
      RETURNING last_version
    ), inserted AS (
      INSERT INTO ${CONTROL_TABLES.versions} (dataflow_id, version, workflow_id, run_id, trigger, tables)
      SELECT $1, last_version, $2, $3, $4, $5 FROM bumped
      RETURNING *
    )
    SELECT *, false AS reused FROM inserted
    UNION ALL
    SELECT *, true AS reused FROM existing`;
  const values = [input.dataflowId, input.workflowId, input.runId, input.trigger, [...input.tables]];
  for (let attempt = 0; ; attempt++) {
    try {
      const { rows } = await db.query<VersionRow & { reused: boolean }>(sql, values);
      if (rows.length === 0) throw new DataflowNotFoundError(input.dataflowId, 'id');
      return { ...toVersion(rows[0]), reused: rows[0].reused };
    } catch (err) {
      // The same run allocating twice at once: the loser sees the winner's row on the next try.
      if (pgErrorCode(err) === PG_ERRORS.uniqueViolation && attempt === 0) continue;
      if (pgErrorCode(err) === PG_ERRORS.invalidTextRepresentation)
        throw new DataflowNotFoundError(input.dataflowId, 'id');
      throw err;
    }
  }
}

export async function getVersion(
  db: Queryable,
  dataflowId: string,
  version: number,
): Promise<VersionRecord | undefined> {
  return findVersion(db, dataflowId, { version });
}

/** Versions of a dataflow, newest first, optionally only those in the given states. */
export async function listVersions(
  db: Queryable,
  dataflowId: string,
  states?: readonly VersionState[],
): Promise<VersionRecord[]> {
  const { rows } = await db.query<VersionRow>(
    `SELECT * FROM ${CONTROL_TABLES.versions}
     WHERE dataflow_id = $1 AND ($2::text[] IS NULL OR state = ANY ($2))
     ORDER BY version DESC`,
    [dataflowId, states ? [...states] : null],
  );
  return rows.map(toVersion);
}

/** Committed versions still kept, newest first. */
export async function listCommittedVersions(db: Queryable, dataflowId: string): Promise<number[]> {
  return (await listVersions(db, dataflowId, ['committed'])).map((v) => v.version);
}

/**
 * Locks the dataflow's row until the end of the caller's transaction, so commits, rollbacks and
 * discards of one dataflow never interleave. @throws DataflowNotFoundError
 */
export async function lockDataflowVersions(
  db: Queryable,
  dataflowId: string,
): Promise<{ name: string; currentVersion: number | null }> {
  const { rows } = await db.query<{ name: string; current_version: number | null }>(
    `SELECT name, current_version FROM ${CONTROL_TABLES.dataflows} WHERE id = $1 FOR UPDATE`,
    [dataflowId],
  );
  if (rows.length === 0) throw new DataflowNotFoundError(dataflowId, 'id');
  return { name: rows[0].name, currentVersion: rows[0].current_version };
}

/** Marks a version committed and makes it the dataflow's current one; the run succeeded. */
export async function recordCommit(
  db: Queryable,
  input: { dataflowId: string; version: number; rows: Record<string, number> },
): Promise<void> {
  await db.query(
    `UPDATE ${CONTROL_TABLES.versions} SET state = 'committed', committed_at = now(), rows = $3
     WHERE dataflow_id = $1 AND version = $2`,
    [input.dataflowId, input.version, JSON.stringify(input.rows)],
  );
  await db.query(
    `UPDATE ${CONTROL_TABLES.dataflows}
     SET current_version = $2, last_refresh_at = now(), status = 'Succeeded', last_error = NULL
     WHERE id = $1`,
    [input.dataflowId, input.version],
  );
}

/** Records how one table of a (staged) version was read; a retried extraction records it again, the same. */
export async function recordTableRead(
  db: Queryable,
  input: { dataflowId: string; version: number; table: string; read: TableRead },
): Promise<void> {
  await db.query(
    `UPDATE ${CONTROL_TABLES.versions} SET reads = reads || jsonb_build_object($3::text, $4::jsonb)
     WHERE dataflow_id = $1 AND version = $2`,
    [input.dataflowId, input.version, input.table, JSON.stringify(input.read)],
  );
}

/** Points the dataflow at another committed version (rollback). */
export async function setCurrentVersion(db: Queryable, dataflowId: string, version: number | null): Promise<void> {
  await db.query(`UPDATE ${CONTROL_TABLES.dataflows} SET current_version = $2 WHERE id = $1`, [dataflowId, version]);
}

/** Ends versions: their tables are gone (or about to be, in the caller's transaction). */
export async function markVersionsEnded(
  db: Queryable,
  input: {
    dataflowId: string;
    versions: readonly number[];
    state: Extract<VersionState, 'discarded' | 'dropped' | 'rolled_back'>;
    rolledBackBy?: string | null;
  },
): Promise<void> {
  if (input.versions.length === 0) return;
  await db.query(
    `UPDATE ${CONTROL_TABLES.versions} SET state = $3, ended_at = now(), rolled_back_by = coalesce($4, rolled_back_by)
     WHERE dataflow_id = $1 AND version = ANY ($2)`,
    [input.dataflowId, [...input.versions], input.state, input.rolledBackBy ?? null],
  );
}

/**
 * A version of `dataflowId` by its number, or the one a rollback request (`rolledBackBy`, its id) already rolled back,
 * so that a retried request does not roll back twice.
 */
export async function findVersion(
  db: Queryable,
  dataflowId: string,
  by: { version: number } | { rolledBackBy: string },
): Promise<VersionRecord | undefined> {
  const [column, value] = 'version' in by ? ['version', by.version] : ['rolled_back_by', by.rolledBackBy];
  const { rows } = await db.query<VersionRow>(
    `SELECT * FROM ${CONTROL_TABLES.versions} WHERE dataflow_id = $1 AND ${column} = $2`,
    [dataflowId, value],
  );
  return rows.length === 0 ? undefined : toVersion(rows[0]);
}

function toVersion(row: VersionRow): VersionRecord {
  return { ...camelCased(row), reads: row.reads ?? {} };
}
