import type pg from 'pg';
import { VersionStateError } from '../control-plane/errors';
import { clearCheckpoints } from '../control-plane/extract-checkpoints';
import { PG_ERRORS, pgErrorCode, pgErrorDetail, type Queryable } from '../control-plane/postgres';
import {
  findVersion,
  getVersion,
  listVersions,
  lockDataflowVersions,
  markVersionsEnded,
  recordCommit,
  setCurrentVersion,
  type VersionState,
} from '../control-plane/versions';
import { DependentViewError, NothingToRollBackError, StagedTableMissingError } from './errors';
import { qualifiedName, validateTableName, versionedTableName } from './identifiers';
import { withLockRetry, type LockRetryOptions } from './lock-retry';
import { listSchemaRelations, lockRelations, readerViews, type SchemaRelations } from './warehouse-schema';

/**
 * Versions in the warehouse (docs/ARCHITECTURE.md, "The versioned warehouse"). Readers query views
 * `<schema>.<table>`; behind each sits `<schema>."<table>__v<N>"`. A commit or rollback repoints every view of the
 * dataflow in one transaction that holds ACCESS EXCLUSIVE locks on all of them: a reader statement runs either
 * wholly before it (old version everywhere) or wholly after it (new version everywhere).
 */

/** @default 3 */
export const DEFAULT_RETAIN = 3;

export interface CommitInput {
  dataflowId: string;
  schema: string;
  version: number;
  /** The tables of the version, with the rows each received (recorded in the version's history). */
  tables: ReadonlyArray<{ table: string; rows?: number }>;
  /** How many committed versions to keep, this one included. @default 3 */
  retain?: number;
}

export interface CommitResult {
  version: number;
  tables: string[];
  /** Committed versions dropped by retention, and abandoned staged versions dropped with them. */
  droppedVersions: number[];
  /**
   * Versions past retention that were kept because other objects (e.g. a user's view) use their
   * tables directly; they are tried again at the next commit.
   */
  keptInUse: number[];
  /** The version was committed by an earlier call (a retried activity): nothing changed. */
  alreadyCommitted: boolean;
}

/**
 * Makes a staged version the one readers see, in ONE transaction: every view of the dataflow is
 * repointed to version N (views of tables N lacks are dropped), N is marked committed and current,
 * the last refresh is recorded, and versions beyond `retain` are dropped. Idempotent.
 * @throws VersionStateError, StagedTableMissingError, WarehouseBusyError (retryable), DependentViewError
 */
export async function commitVersion(
  pool: pg.Pool,
  input: CommitInput,
  options?: LockRetryOptions,
): Promise<CommitResult> {
  const retain = input.retain ?? DEFAULT_RETAIN;
  if (!Number.isInteger(retain) || retain < 1)
    throw new RangeError(`retain must be a positive integer, not ${retain}.`);
  const tables = [...new Set(input.tables.map((t) => validateTableName(t.table)))].sort();
  return withLockRetry(
    pool,
    `commit version ${input.version}`,
    async (client) => {
      const dataflow = await lockDataflowVersions(client, input.dataflowId);
      const record = await getVersion(client, input.dataflowId, input.version);
      if (!record) throw new VersionStateError(`Dataflow "${dataflow.name}" has no version ${input.version}.`);
      if (record.state === 'committed') {
        return { version: input.version, tables, droppedVersions: [], keptInUse: [], alreadyCommitted: true };
      }
      if (record.state !== 'staging') {
        throw new VersionStateError(
          `Version ${input.version} of dataflow "${dataflow.name}" is ${describeState(record.state)} and cannot be committed.`,
        );
      }
      const relations = await listSchemaRelations(client, input.schema);
      const staged = relations.versions.get(input.version) ?? new Set<string>();
      const missing = tables.filter((t) => !staged.has(t));
      if (missing.length > 0) {
        throw new StagedTableMissingError(
          `Version ${input.version} of dataflow "${dataflow.name}" has no staged table for ${missing.join(', ')}.`,
        );
      }

      const versions = await listVersions(client, input.dataflowId);
      const newer = versions.find((v) => v.state === 'committed' && v.version > input.version);
      if (newer) {
        throw new VersionStateError(
          `Version ${input.version} of dataflow "${dataflow.name}" is older than the committed version ${newer.version}; ` +
            'it cannot be committed over it.',
        );
      }
      const kept = new Set(
        [input.version, ...versions.filter((v) => v.state === 'committed').map((v) => v.version)]
          .sort((a, b) => b - a)
          .slice(0, retain),
      );
      // Everything older than N that is not kept goes: committed versions past retention, and staged
      // versions a crashed run never discarded. Newer versions are never touched here.
      const expired = [...relations.versions.keys()]
        .filter((v) => v < input.version && !kept.has(v))
        .sort((a, b) => a - b);
      const extraStaged = [...staged].filter((t) => !tables.includes(t));

      await lockRelations(client, input.schema, [
        ...readerViews(relations),
        ...expired.flatMap((v) => tablesOf(relations, v).map((t) => versionedTableName(t, v))),
      ]);
      await repointViews(client, input.schema, relations, input.version, tables);
      const inUse = await dropExpiredVersions(client, input.schema, relations, expired);
      await dropVersionTables(client, input.schema, input.version, extraStaged);

      const ended = (state: VersionState, test: (v: number) => boolean) =>
        versions
          .filter((v) => v.state === state && test(v.version) && !inUse.includes(v.version))
          .map((v) => v.version);
      const endedCommitted = ended('committed', (v) => !kept.has(v));
      const endedStaging = ended('staging', (v) => v < input.version);
      const rows = Object.fromEntries(input.tables.map((t) => [t.table, t.rows ?? 0]));
      await recordCommit(client, { dataflowId: input.dataflowId, version: input.version, rows });
      await markVersionsEnded(client, { dataflowId: input.dataflowId, versions: endedCommitted, state: 'dropped' });
      await markVersionsEnded(client, { dataflowId: input.dataflowId, versions: endedStaging, state: 'discarded' });
      await clearCheckpoints(client, {
        dataflowId: input.dataflowId,
        version: [input.version, ...endedCommitted, ...endedStaging],
      });
      const droppedVersions = [
        ...new Set([...expired.filter((v) => !inUse.includes(v)), ...endedCommitted, ...endedStaging]),
      ].sort((a, b) => a - b);
      return { version: input.version, tables, droppedVersions, keptInUse: inUse, alreadyCommitted: false };
    },
    options,
  );
}

export interface RollbackInput {
  dataflowId: string;
  schema: string;
  /**
   * Identifies one rollback request (e.g. the workflow run id): a retried call with the same id
   * returns the first call's result instead of rolling back once more.
   */
  requestId?: string;
}

export interface RollbackOutcome {
  fromVersion: number;
  toVersion: number;
  tables: string[];
  alreadyRolledBack: boolean;
}

/**
 * Repoints every view to the previous committed version still kept, in one transaction; the version
 * rolled back from is marked `rolled_back` and its tables dropped, so a second rollback goes one
 * further back. @throws NothingToRollBackError, WarehouseBusyError (retryable)
 */
export async function rollbackToPrevious(
  pool: pg.Pool,
  input: RollbackInput,
  options?: LockRetryOptions,
): Promise<RollbackOutcome> {
  return withLockRetry(
    pool,
    'roll back',
    async (client) => {
      const dataflow = await lockDataflowVersions(client, input.dataflowId);
      if (input.requestId !== undefined) {
        const done = await findVersion(client, input.dataflowId, { rolledBackBy: input.requestId });
        if (done) {
          const relations = await listSchemaRelations(client, input.schema);
          const current = dataflow.currentVersion ?? 0;
          return {
            fromVersion: done.version,
            toVersion: current,
            tables: tablesOf(relations, current),
            alreadyRolledBack: true,
          };
        }
      }
      const current = dataflow.currentVersion;
      if (current === null) {
        throw new NothingToRollBackError(
          `Dataflow "${dataflow.name}" has no committed version yet: nothing to roll back.`,
        );
      }
      const committed = await listVersions(client, input.dataflowId, ['committed']);
      const previous = committed.find((v) => v.version < current);
      if (!previous) {
        throw new NothingToRollBackError(
          `Dataflow "${dataflow.name}" shows version ${current} and keeps no earlier committed version: nothing to roll back to.`,
        );
      }
      const relations = await listSchemaRelations(client, input.schema);
      const target = tablesOf(relations, previous.version);
      // The tables it committed are the ones it recorded rows for.
      const missing = Object.keys(previous.rows).filter((t) => !target.includes(t));
      if (missing.length > 0) {
        throw new StagedTableMissingError(
          `Version ${previous.version} of dataflow "${dataflow.name}" lacks its tables ${missing.join(', ')}; cannot roll back to it.`,
        );
      }
      const abandoned = tablesOf(relations, current);
      await lockRelations(client, input.schema, [
        ...readerViews(relations),
        ...abandoned.map((t) => versionedTableName(t, current)),
      ]);
      await repointViews(client, input.schema, relations, previous.version, target);
      await dropVersionTables(client, input.schema, current, abandoned);
      await markVersionsEnded(client, {
        dataflowId: input.dataflowId,
        versions: [current],
        state: 'rolled_back',
        rolledBackBy: input.requestId ?? null,
      });
      await setCurrentVersion(client, input.dataflowId, previous.version);
      return { fromVersion: current, toVersion: previous.version, tables: target, alreadyRolledBack: false };
    },
    options,
  );
}

export interface DiscardOutcome {
  /** False when the version was not discardable (it is committed, or unknown): nothing was touched. */
  discarded: boolean;
  state: VersionState | null;
  droppedTables: number;
}

/**
 * Throws away a staged version after a failed or cancelled run: drops its tables, marks it
 * discarded and clears its checkpoints. A committed version is never touched (a run whose commit
 * went through must not lose it on a late failure). Idempotent.
 */
export async function discardVersion(
  pool: pg.Pool,
  input: { dataflowId: string; schema: string; version: number },
  options?: LockRetryOptions,
): Promise<DiscardOutcome> {
  return withLockRetry(
    pool,
    `discard version ${input.version}`,
    async (client) => {
      await lockDataflowVersions(client, input.dataflowId);
      const record = await getVersion(client, input.dataflowId, input.version);
      if (!record) return { discarded: false, state: null, droppedTables: 0 };
      if (record.state !== 'staging' && record.state !== 'discarded') {
        return { discarded: false, state: record.state, droppedTables: 0 };
      }
      const relations = await listSchemaRelations(client, input.schema);
      const tables = tablesOf(relations, input.version);
      await lockRelations(
        client,
        input.schema,
        tables.map((t) => versionedTableName(t, input.version)),
      );
      await dropVersionTables(client, input.schema, input.version, tables);
      await markVersionsEnded(client, { dataflowId: input.dataflowId, versions: [input.version], state: 'discarded' });
      await clearCheckpoints(client, { dataflowId: input.dataflowId, version: input.version });
      return { discarded: true, state: 'discarded', droppedTables: tables.length };
    },
    options,
  );
}

/** Points the view of every table in `tables` at version `version`, and drops our views of other tables. */
async function repointViews(
  client: Queryable,
  schema: string,
  relations: SchemaRelations,
  version: number,
  tables: readonly string[],
): Promise<void> {
  for (const table of tables) {
    const view = qualifiedName(schema, table);
    const definition = `SELECT * FROM ${qualifiedName(schema, versionedTableName(table, version))}`;
    if (!relations.views.has(table)) {
      await client.query(`CREATE VIEW ${view} AS ${definition}`);
      continue;
    }
    // Same columns (the usual case): replace in place, so views users built on ours keep working.
    await client.query('SAVEPOINT repoint_view');
    try {
      await client.query(`CREATE OR REPLACE VIEW ${view} AS ${definition}`);
      await client.query('RELEASE SAVEPOINT repoint_view');
    } catch {
      // Columns changed (removed, retyped, reordered): only a new view can have the new shape.
      await client.query('ROLLBACK TO SAVEPOINT repoint_view');
      await dropView(client, schema, table);
      await client.query(`CREATE VIEW ${view} AS ${definition}`);
    }
  }
  for (const view of readerViews(relations)) {
    if (!tables.includes(view)) await dropView(client, schema, view);
  }
}

async function dropView(client: Queryable, schema: string, view: string): Promise<void> {
  try {
    await client.query(`DROP VIEW ${qualifiedName(schema, view)}`);
  } catch (err) {
    if (pgErrorCode(err) !== PG_ERRORS.dependentObjectsStillExist) throw err;
    const detail = pgErrorDetail(err) === undefined ? '' : ` (${pgErrorDetail(err)})`;
    throw new DependentViewError(
      `The view ${schema}.${view} must be replaced (its columns changed), but other objects depend on it${detail}. ` +
        'Drop them, run again, then recreate them.',
    );
  }
}

async function dropVersionTables(
  client: Queryable,
  schema: string,
  version: number,
  tables: readonly string[],
): Promise<void> {
  if (tables.length === 0) return;
  const names = tables.map((t) => qualifiedName(schema, versionedTableName(t, version)));
  await client.query(`DROP TABLE IF EXISTS ${names.join(', ')}`);
}

/** Drops expired versions one by one; one whose tables others depend on is kept. @returns the versions kept */
async function dropExpiredVersions(
  client: Queryable,
  schema: string,
  relations: SchemaRelations,
  versions: readonly number[],
): Promise<number[]> {
  const inUse: number[] = [];
  for (const version of versions) {
    await client.query('SAVEPOINT drop_version');
    try {
      await dropVersionTables(client, schema, version, tablesOf(relations, version));
      await client.query('RELEASE SAVEPOINT drop_version');
    } catch (err) {
      if (pgErrorCode(err) !== PG_ERRORS.dependentObjectsStillExist) throw err;
      await client.query('ROLLBACK TO SAVEPOINT drop_version');
      inUse.push(version);
    }
  }
  return inUse;
}

function tablesOf(relations: SchemaRelations, version: number): string[] {
  return [...(relations.versions.get(version) ?? [])].sort();
}

function describeState(state: VersionState): string {
  return state === 'rolled_back' ? 'rolled back' : state;
}
