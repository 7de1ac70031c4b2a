import { FAILURE_TYPES } from '../shared/operations';
import { dataflowErrorOf } from '../control-plane/errors';
import { PG_ERRORS, pgErrorCode, pgErrorDetail } from '../control-plane/postgres';

/** A schema, table or column name that cannot be used safely; nothing was sent to Postgres. */
export class InvalidIdentifierError extends dataflowErrorOf('InvalidIdentifier') {}

export class NothingToRollBackError extends dataflowErrorOf(FAILURE_TYPES.NothingToRollBack) {}

/**
 * Readers (or a stuck session) held the tables too long for a commit, rollback or discard to take
 * its locks; nothing changed. Retrying later can succeed.
 */
export class WarehouseBusyError extends dataflowErrorOf('WarehouseBusy', true) {}

/** A batch holds a row whose key is already in the table (or twice in the batch). */
export class DuplicateRowError extends dataflowErrorOf('DuplicateRow') {
  /** `err` in these words if Postgres refused a repeated key of `table` (`schema.table`), else `err` itself. */
  static orError(err: unknown, table: string): unknown {
    if (pgErrorCode(err) !== PG_ERRORS.uniqueViolation) return err;
    const detail = pgErrorDetail(err) === undefined ? '' : ` ${pgErrorDetail(err)}`;
    return new DuplicateRowError(`A row loaded into ${table} repeats a key.${detail}`);
  }
}

/** A commit named a table that was never staged for that version. */
export class StagedTableMissingError extends dataflowErrorOf('StagedTableMissing') {}

/** A resource that cannot become a row: no id, or a key column (parent id, channel) without a value. */
export class InvalidRowError extends dataflowErrorOf('InvalidRow') {}

/** A reader view cannot be replaced because the user built other objects on it. */
export class DependentViewError extends dataflowErrorOf('DependentView') {}

/**
 * Removing a dataflow would drop objects it did not create: views (or other objects) users built on its tables, or
 * objects of theirs in its schema. Nothing was dropped; `dependents` names them, e.g. `view public.vip_profiles`.
 */
export class DependentObjectsError extends dataflowErrorOf(FAILURE_TYPES.DependentObjects) {
  constructor(
    message: string,
    readonly dependents: readonly string[] = [],
  ) {
    super(message);
  }
}
