import { OPERATIONS, type Operation } from '../shared/operations';
import { CONTROL_TABLES } from './control-schema';
import { DataflowBusyError, DataflowNotFoundError, InvalidDataflowInputError } from './errors';
import { PG_ERRORS, pgErrorCode, type Queryable } from './postgres';

/**
 * At most one operation (run, rollback, remove) per dataflow is in flight, enforced here in
 * Postgres rather than by whoever starts it. The holder is a workflow id: a retried activity of the
 * same workflow re-acquires (idempotent), anyone else gets a {@link DataflowBusyError}. A lock left
 * by a workflow that was terminated is released with that workflow id (the busy error names it).
 */
export interface OperationLock {
  dataflowId: string;
  workflowId: string;
  operation: Operation;
  since: Date;
}

interface LockRow {
  dataflow_id: string;
  workflow_id: string;
  operation: Operation;
  since: Date;
}

/**
 * Takes the lock of a dataflow for `workflowId`, or confirms that it already holds it (a workflow id
 * is unique among running workflows, so the same id taking it for another operation means the
 * earlier holder is closed: the lock passes to the new operation).
 * @throws DataflowBusyError, DataflowNotFoundError
 */
export async function acquireOperationLock(
  db: Queryable,
  input: { dataflowId: string; workflowId: string; operation: Operation },
): Promise<OperationLock> {
  if (!OPERATIONS.includes(input.operation))
    throw new InvalidDataflowInputError(`Unknown operation "${input.operation}".`);
  for (let attempt = 0; attempt < 5; attempt++) {
    let acquired: LockRow[];
    try {
      ({ rows: acquired } = await db.query<LockRow>(
        `INSERT INTO ${CONTROL_TABLES.locks} AS held (dataflow_id, workflow_id, operation) VALUES ($1, $2, $3)
         ON CONFLICT (dataflow_id) DO UPDATE
         SET operation = EXCLUDED.operation,
             since = CASE WHEN held.operation = EXCLUDED.operation THEN held.since ELSE now() END
         WHERE held.workflow_id = EXCLUDED.workflow_id
         RETURNING dataflow_id, workflow_id, operation, since`,
        [input.dataflowId, input.workflowId, input.operation],
      ));
    } catch (err) {
      const code = pgErrorCode(err);
      if (code === PG_ERRORS.foreignKeyViolation || code === PG_ERRORS.invalidTextRepresentation) {
        throw new DataflowNotFoundError(input.dataflowId, 'id');
      }
      throw err;
    }
    if (acquired.length > 0) return toLock(acquired[0]);
    const { rows: holders } = await db.query<LockRow & { name: string }>(
      `SELECT l.dataflow_id, l.workflow_id, l.operation, l.since, d.name
       FROM ${CONTROL_TABLES.locks} l JOIN ${CONTROL_TABLES.dataflows} d ON d.id = l.dataflow_id
       WHERE l.dataflow_id = $1`,
      [input.dataflowId],
    );
    // Released between the two statements: try again.
    if (holders.length === 0) continue;
    const holder = holders[0];
    throw new DataflowBusyError(holder.name, holder.operation, holder.workflow_id, holder.since);
  }
  throw new Error(`The operation lock of dataflow ${input.dataflowId} changed hands too often to be taken; try again.`);
}

/** Releases the lock if `workflowId` holds it. @returns whether it did */
export async function releaseOperationLock(
  db: Queryable,
  input: { dataflowId: string; workflowId: string },
): Promise<boolean> {
  const result = await db.query(`DELETE FROM ${CONTROL_TABLES.locks} WHERE dataflow_id = $1 AND workflow_id = $2`, [
    input.dataflowId,
    input.workflowId,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Who holds the lock of a dataflow, if anyone. */
export async function getOperationLock(db: Queryable, dataflowId: string): Promise<OperationLock | undefined> {
  const { rows } = await db.query<LockRow>(
    `SELECT dataflow_id, workflow_id, operation, since FROM ${CONTROL_TABLES.locks} WHERE dataflow_id = $1`,
    [dataflowId],
  );
  return rows.length === 0 ? undefined : toLock(rows[0]);
}

function toLock(row: LockRow): OperationLock {
  return { dataflowId: row.dataflow_id, workflowId: row.workflow_id, operation: row.operation, since: row.since };
}
