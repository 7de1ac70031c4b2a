import { CONTROL_TABLES } from './control-schema';
import { camelCased, type Queryable } from './postgres';

/**
 * Where the extraction of one table (or one part of it: a fan-out parent id, a campaign channel)
 * stands within a staged version. Save it with the same client, in the same transaction, as the
 * rows it accounts for: then a resumed extraction neither repeats nor skips a row.
 */
export interface CheckpointKey {
  dataflowId: string;
  version: number;
  table: string;
  /** The fan-out parent id or channel; '' for a table read in one pass. @default '' */
  part?: string;
}

export interface Checkpoint extends Required<CheckpointKey> {
  /** The `links.next` to read next; null when nothing was read yet or the part is done. */
  nextUrl: string | null;
  /** Rows and pages loaded so far (cumulative). */
  rows: number;
  pages: number;
  done: boolean;
  /** Anything else the extraction needs to resume, e.g. an incremental watermark; small JSON. */
  state: unknown;
  updatedAt: Date;
}

export type CheckpointUpdate = Omit<Checkpoint, 'updatedAt' | 'part' | 'state'> & { part?: string; state?: unknown };

interface CheckpointRow {
  dataflow_id: string;
  version: number;
  table_name: string;
  part: string;
  next_url: string | null;
  rows: string;
  pages: number;
  done: boolean;
  state: unknown;
  updated_at: Date;
}

/** Creates or replaces the checkpoint of one part of a table. */
export async function saveCheckpoint(db: Queryable, checkpoint: CheckpointUpdate): Promise<void> {
  await db.query(
    `INSERT INTO ${CONTROL_TABLES.checkpoints}
       (dataflow_id, version, table_name, part, next_url, rows, pages, done, state, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
     ON CONFLICT (dataflow_id, version, table_name, part) DO UPDATE
     SET next_url = EXCLUDED.next_url, rows = EXCLUDED.rows, pages = EXCLUDED.pages, done = EXCLUDED.done,
         state = EXCLUDED.state, updated_at = now()`,
    [
      checkpoint.dataflowId,
      checkpoint.version,
      checkpoint.table,
      checkpoint.part ?? '',
      checkpoint.nextUrl,
      checkpoint.rows,
      checkpoint.pages,
      checkpoint.done,
      checkpoint.state === undefined ? null : JSON.stringify(checkpoint.state),
    ],
  );
}

export async function getCheckpoint(db: Queryable, key: CheckpointKey): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT * FROM ${CONTROL_TABLES.checkpoints}
     WHERE dataflow_id = $1 AND version = $2 AND table_name = $3 AND part = $4`,
    [key.dataflowId, key.version, key.table, key.part ?? ''],
  );
  return rows.length === 0 ? undefined : toCheckpoint(rows[0]);
}

/** The checkpoints of a version, optionally of one table, ordered by table and part. */
export async function listCheckpoints(
  db: Queryable,
  filter: { dataflowId: string; version: number; table?: string },
): Promise<Checkpoint[]> {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT * FROM ${CONTROL_TABLES.checkpoints}
     WHERE dataflow_id = $1 AND version = $2 AND ($3::text IS NULL OR table_name = $3)
     ORDER BY table_name, part`,
    [filter.dataflowId, filter.version, filter.table ?? null],
  );
  return rows.map(toCheckpoint);
}

/** Deletes the checkpoints of a version (or of one of its tables). @returns how many were deleted */
export async function clearCheckpoints(
  db: Queryable,
  filter: { dataflowId: string; version: number | readonly number[]; table?: string },
): Promise<number> {
  const versions = typeof filter.version === 'number' ? [filter.version] : [...filter.version];
  const result = await db.query(
    `DELETE FROM ${CONTROL_TABLES.checkpoints}
     WHERE dataflow_id = $1 AND version = ANY ($2) AND ($3::text IS NULL OR table_name = $3)`,
    [filter.dataflowId, versions, filter.table ?? null],
  );
  return result.rowCount ?? 0;
}

function toCheckpoint(row: CheckpointRow): Checkpoint {
  const { tableName, rows, ...rest } = camelCased(row);
  return { ...rest, table: tableName, rows: Number(rows) };
}
