import type pg from 'pg';
import { SchemaConflictError } from '../control-plane/errors';
import { PG_ERRORS, pgErrorCode, pgErrorDetail, type Queryable } from '../control-plane/postgres';
import { dependentObjectsError, findDependentObjects, type DependentObject } from './dependent-objects';
import { DependentObjectsError, InvalidIdentifierError } from './errors';
import {
  parseVersionedTableName,
  qualifiedName,
  quoteIdent,
  validateIdentifier,
  versionedTableName,
} from './identifiers';
import { withLockRetry, type LockRetryOptions } from './lock-retry';

/**
 * A dataflow's schema carries a comment naming the dataflow id. It is created with it, and nothing
 * drops or writes into a schema without it: a schema that merely has the same name stays untouched.
 */
export function ownershipMarker(dataflowId: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(dataflowId))
    throw new InvalidIdentifierError(`Invalid dataflow id ${JSON.stringify(dataflowId)}.`);
  return `klaviyo-dataflow ${dataflowId.toLowerCase()}`;
}

/** Creates the schema of a dataflow, or checks that the existing one is its own. @throws SchemaConflictError */
export async function ensureDataflowSchema(client: Queryable, schema: string, dataflowId: string): Promise<void> {
  validateIdentifier(schema, 'schema');
  const marker = ownershipMarker(dataflowId);
  const owner = await schemaOwner(client, schema);
  if (owner === undefined) {
    await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    // COMMENT takes no parameters; the marker is a fixed prefix and a checked uuid.
    await client.query(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS '${marker}'`);
    return;
  }
  if (owner !== marker) throw schemaConflict(schema);
}

/** The ownership comment of a schema: undefined when the schema does not exist, null when it has none. */
export async function schemaOwner(db: Queryable, schema: string): Promise<string | null | undefined> {
  const { rows } = await db.query<{ owner: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS owner FROM pg_namespace WHERE nspname = $1`,
    [schema],
  );
  return rows.length === 0 ? undefined : rows[0].owner;
}

/** What a dataflow schema holds: reader views, and per-version tables grouped by version. */
export interface SchemaRelations {
  views: Set<string>;
  /** version → table names (catalog names, without the suffix) */
  versions: Map<number, Set<string>>;
}

export async function listSchemaRelations(db: Queryable, schema: string): Promise<SchemaRelations> {
  const { rows } = await db.query<{ relname: string; relkind: string }>(
    `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'v')`,
    [schema],
  );
  const relations: SchemaRelations = { views: new Set(), versions: new Map() };
  for (const row of rows) {
    if (row.relkind === 'v') {
      relations.views.add(row.relname);
      continue;
    }
    const parsed = parseVersionedTableName(row.relname);
    if (!parsed) continue;
    const tables = relations.versions.get(parsed.version) ?? new Set<string>();
    tables.add(parsed.table);
    relations.versions.set(parsed.version, tables);
  }
  return relations;
}

/** Reader views this code created: those named like a table that has per-version tables. */
export function readerViews(relations: SchemaRelations): string[] {
  const tables = new Set<string>();
  for (const names of relations.versions.values()) for (const name of names) tables.add(name);
  return [...relations.views].filter((view) => tables.has(view)).sort();
}

/**
 * What the dataflow created in its schema: the per-version tables and the reader views over them (in name order).
 * Anything else there is someone else's.
 */
export function ownRelations(relations: SchemaRelations): { views: string[]; tables: string[] } {
  const tables: string[] = [];
  for (const [version, names] of relations.versions) {
    for (const name of names) tables.push(versionedTableName(name, version));
  }
  return { views: readerViews(relations), tables: tables.sort() };
}

/**
 * The objects the dataflow did not create that removing it would drop (users' views on its tables, their objects
 * in its schema); empty when the schema is gone or not this dataflow's (nothing of it would be dropped then).
 */
export async function dependentsOfDataflowWarehouse(
  db: Queryable,
  input: { dataflowId: string; schema: string },
): Promise<DependentObject[]> {
  validateIdentifier(input.schema, 'schema');
  if ((await schemaOwner(db, input.schema)) !== ownershipMarker(input.dataflowId)) return [];
  const { views, tables } = ownRelations(await listSchemaRelations(db, input.schema));
  return findDependentObjects(db, input.schema, [...views, ...tables]);
}

/**
 * Drops what a dataflow created (Remove): its reader views, its per-version tables and its schema. Objects others
 * built on them, or put in the schema, are found first, in the same transaction and with the tables locked, so none
 * can appear in between: they refuse the whole removal (DependentObjectsError, nothing dropped), or with `cascade`
 * are dropped too and named in the result. Refuses a schema that is not this dataflow's; a schema that does not
 * exist is nothing to do.
 * @returns how many tables (per-version tables, not views) were dropped, and the others' objects dropped with them
 */
export async function dropDataflowWarehouse(
  pool: pg.Pool,
  input: { dataflowId: string; schema: string; cascade?: boolean },
  options?: LockRetryOptions,
): Promise<{ droppedTables: number; droppedDependents: string[] }> {
  validateIdentifier(input.schema, 'schema');
  const marker = ownershipMarker(input.dataflowId);
  return withLockRetry(
    pool,
    `drop the schema "${input.schema}"`,
    async (client) => {
      const owner = await schemaOwner(client, input.schema);
      if (owner === undefined) return { droppedTables: 0, droppedDependents: [] };
      if (owner !== marker) throw schemaConflict(input.schema);
      const { views, tables } = ownRelations(await listSchemaRelations(client, input.schema));
      // Locked first: a view on them cannot be created between the check and the drop.
      await lockRelations(client, input.schema, [...views, ...tables]);
      const dependents = await findDependentObjects(client, input.schema, [...views, ...tables]);
      if (dependents.length > 0 && !input.cascade) throw dependentObjectsError(input.schema, dependents);
      try {
        if (input.cascade) {
          await client.query(`DROP SCHEMA ${quoteIdent(input.schema)} CASCADE`);
        } else {
          if (views.length > 0)
            await client.query(`DROP VIEW ${views.map((v) => qualifiedName(input.schema, v)).join(', ')}`);
          if (tables.length > 0)
            await client.query(`DROP TABLE ${tables.map((t) => qualifiedName(input.schema, t)).join(', ')}`);
          await client.query(`DROP SCHEMA ${quoteIdent(input.schema)}`);
        }
      } catch (err) {
        // Something the catalog query does not see (created in the schema since) still refuses, in Postgres' words.
        if (pgErrorCode(err) !== PG_ERRORS.dependentObjectsStillExist) throw err;
        const detail = pgErrorDetail(err) ?? (err as Error).message;
        throw new DependentObjectsError(
          `Other objects depend on what the dataflow created in the schema ${input.schema} (${detail}); drop them ` +
            'first, or remove with --cascade to drop them too. Nothing was removed.',
        );
      }
      return { droppedTables: tables.length, droppedDependents: dependents.map((d) => `${d.kind} ${d.name}`) };
    },
    options,
  );
}

/** Takes ACCESS EXCLUSIVE locks on relations of a schema, in name order (one order for every caller). */
export async function lockRelations(client: Queryable, schema: string, names: Iterable<string>): Promise<void> {
  const sorted = [...new Set(names)].sort();
  if (sorted.length === 0) return;
  await client.query(
    `LOCK TABLE ${sorted.map((name) => qualifiedName(schema, name)).join(', ')} IN ACCESS EXCLUSIVE MODE`,
  );
}

function schemaConflict(schema: string): SchemaConflictError {
  return new SchemaConflictError(
    `The schema "${schema}" exists but was not created for this dataflow; it is left untouched. ` +
      'Rename or drop it, or give the dataflow another name.',
  );
}
