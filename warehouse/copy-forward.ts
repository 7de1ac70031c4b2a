import type { Queryable } from '../control-plane/postgres';
import { InvalidIdentifierError, StagedTableMissingError } from './errors';
import { qualifiedName, quoteIdent, validateIdentifier, versionedTableName } from './identifiers';
import { SYSTEM_COLUMNS } from './table-layout';

/**
 * Incremental refresh: copies into version `to` the rows of version `from` whose key `to` does not
 * hold yet (load the changed rows first, then copy the rest forward). Only columns both versions
 * have with the same type are copied; `_extracted_at` keeps when a row was really read. With `keep` (a
 * deletion sweep's table of the keys Klaviyo still has, e.g. a temporary one), rows whose key it lacks stay behind.
 * Runs on the caller's client, inside its transaction. @returns the rows copied
 */
export async function copyForwardVersion(
  client: Queryable,
  input: { schema: string; table: string; from: number; to: number; keep?: KeyTable },
): Promise<number> {
  const source = versionedTableName(input.table, input.from);
  const target = versionedTableName(input.table, input.to);
  const { rows } = await client.query<{ name: string; source_type: string | null; target_type: string | null }>(
    `SELECT t.attname AS name, format_type(s.atttypid, s.atttypmod) AS source_type,
            format_type(t.atttypid, t.atttypmod) AS target_type
     FROM pg_attribute t
     LEFT JOIN pg_attribute s ON s.attrelid = to_regclass($1)::oid AND s.attname = t.attname
       AND s.attnum > 0 AND NOT s.attisdropped
     WHERE t.attrelid = to_regclass($2)::oid AND t.attnum > 0 AND NOT t.attisdropped
     ORDER BY t.attnum`,
    [qualifiedName(input.schema, source), qualifiedName(input.schema, target)],
  );
  if (rows.length === 0) throw new StagedTableMissingError(`There is no table ${input.schema}.${target} to copy into.`);
  const columns = rows
    .filter((c) => c.name !== SYSTEM_COLUMNS.version && c.source_type !== null && c.source_type === c.target_type)
    .map((c) => quoteIdent(c.name));
  if (columns.length === 0)
    throw new StagedTableMissingError(`There is no table ${input.schema}.${source} to copy from.`);
  const keep = input.keep;
  const kept = keep
    ? ` s WHERE EXISTS (SELECT 1 FROM ${keyTableName(keep)} k WHERE ${keyMatch(keep.key, 'k', 's')})`
    : '';
  const result = await client.query(
    `INSERT INTO ${qualifiedName(input.schema, target)} (${columns.join(', ')})
     SELECT ${columns.join(', ')} FROM ${qualifiedName(input.schema, source)}${kept}
     ON CONFLICT DO NOTHING`,
  );
  return result.rowCount ?? 0;
}

/** A table of keys (the key columns of a versioned table), in the caller's session: `temporary` means pg_temp. */
export interface KeyTable {
  /** A temporary table's name (validated as an identifier). */
  name: string;
  key: readonly string[];
}

/**
 * Rows of version `from` whose key version `to` does not hold: after a copy forward with `keep`, the rows Klaviyo
 * deleted (the changed rows read into `to` are never among them).
 */
export async function countLeftBehind(
  client: Queryable,
  input: { schema: string; table: string; from: number; to: number; key: readonly string[] },
): Promise<number> {
  const source = qualifiedName(input.schema, versionedTableName(input.table, input.from));
  const target = qualifiedName(input.schema, versionedTableName(input.table, input.to));
  const { rows } = await client.query<{ count: string }>(
    `SELECT count(*) AS count FROM ${source} s WHERE NOT EXISTS (SELECT 1 FROM ${target} t WHERE ${keyMatch(input.key, 't', 's')})`,
  );
  return Number(rows[0].count);
}

function keyTableName(keys: KeyTable): string {
  return `pg_temp.${quoteIdent(validateIdentifier(keys.name, 'table'))}`;
}

function keyMatch(key: readonly string[], a: string, b: string): string {
  if (key.length === 0) throw new InvalidIdentifierError('A key needs at least one column.');
  return key.map((c) => `${a}.${quoteIdent(validateIdentifier(c, 'column'))} = ${b}.${quoteIdent(c)}`).join(' AND ');
}
