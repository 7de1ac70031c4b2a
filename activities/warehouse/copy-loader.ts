import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PG_ERRORS, pgErrorCode, pgErrorDetail } from '../control-plane/postgres';
import { createRowEncoder, type Cell, type CopyColumnType } from './copy-text';
import { DuplicateRowError, InvalidIdentifierError } from './errors';
import { qualifiedName, quoteIdent, validateIdentifier, versionedTableName } from './identifiers';
import { SYSTEM_COLUMNS, type TableDefinition } from './table-layout';

/** Where a batch goes: a per-version table and its loaded columns, in the order of each row's cells. */
export interface CopyTarget {
  schema: string;
  /** The physical table, e.g. `events__v3`. */
  table: string;
  columns: ReadonlyArray<{ name: string; type: CopyColumnType }>;
  primaryKey: readonly string[];
}

/** The COPY target of a table definition in version `version`. */
export function versionTarget(schema: string, version: number, definition: TableDefinition): CopyTarget {
  return {
    schema: validateIdentifier(schema, 'schema'),
    table: versionedTableName(definition.table, version),
    columns: definition.columns,
    primaryKey: definition.primaryKey,
  };
}

export interface LoadOptions {
  /**
   * What a row whose key is already there does: `fail` (a {@link DuplicateRowError}: the default,
   * a full extraction never reads a row twice) or `replace` (the newer row wins: for incremental
   * refreshes and cursors that may return a row again). `replace` loads through a temporary table.
   * @default 'fail'
   */
  onDuplicate?: 'fail' | 'replace';
}

export interface LoadResult {
  rows: number;
  /** COPY text sent, in bytes. */
  bytes: number;
}

/** Rows are encoded and sent in slices of this many, so memory stays bounded by the batch itself. */
const ROWS_PER_CHUNK = 2000;

interface CompiledTarget {
  copySql: string;
  encode: (rows: readonly (readonly Cell[])[]) => string;
}
const compiled = new WeakMap<CopyTarget, CompiledTarget>();

/**
 * COPYs `rows` into `target` on the caller's client, inside the caller's transaction: the caller
 * can load a batch of pages and save its cursor checkpoint in ONE transaction, so a resumed
 * extraction neither duplicates nor loses a row. Each row holds one cell per target column.
 * @throws DuplicateRowError when a key is already in the table (with `onDuplicate: 'fail'`)
 */
export async function loadBatch(
  client: pg.ClientBase,
  target: CopyTarget,
  rows: readonly (readonly Cell[])[],
  options: LoadOptions = {},
): Promise<LoadResult> {
  if (rows.length === 0) return { rows: 0, bytes: 0 };
  const { encode } = compile(target);
  if (options.onDuplicate === 'replace') return replaceBatch(client, target, rows, encode);
  const bytes = await copyRows(client, compile(target).copySql, rows, encode, target);
  return { rows: rows.length, bytes };
}

function compile(target: CopyTarget): CompiledTarget {
  let entry = compiled.get(target);
  if (!entry) {
    validateIdentifier(target.schema, 'schema');
    for (const column of target.columns) validateIdentifier(column.name, 'column');
    if (!/^[a-z][a-z0-9_]*__v[1-9][0-9]*$/.test(target.table)) {
      throw new InvalidIdentifierError(`The COPY target ${JSON.stringify(target.table)} is not a per-version table.`);
    }
    entry = {
      copySql: copySql(qualifiedName(target.schema, target.table), target),
      encode: createRowEncoder(target.columns.map((c) => c.type)),
    };
    compiled.set(target, entry);
  }
  return entry;
}

function copySql(table: string, target: CopyTarget): string {
  return `COPY ${table} (${target.columns.map((c) => quoteIdent(c.name)).join(', ')}) FROM STDIN`;
}

async function copyRows(
  client: pg.ClientBase,
  sql: string,
  rows: readonly (readonly Cell[])[],
  encode: CompiledTarget['encode'],
  target: CopyTarget,
): Promise<number> {
  let bytes = 0;
  function* chunks(): Generator<Buffer> {
    for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
      const chunk = Buffer.from(encode(rows.slice(start, start + ROWS_PER_CHUNK)), 'utf8');
      bytes += chunk.length;
      yield chunk;
    }
  }
  try {
    await pipeline(Readable.from(chunks(), { objectMode: false }), client.query(copyFrom(sql)));
  } catch (err) {
    if (pgErrorCode(err) === PG_ERRORS.uniqueViolation) {
      const detail = pgErrorDetail(err) === undefined ? '' : ` ${pgErrorDetail(err)}`;
      throw new DuplicateRowError(`A row loaded into ${target.schema}.${target.table} repeats a key.${detail}`);
    }
    throw err;
  }
  return bytes;
}

/** COPY into a temporary twin, then upsert: the last row of a key in the batch wins, and wins over the table. */
async function replaceBatch(
  client: pg.ClientBase,
  target: CopyTarget,
  rows: readonly (readonly Cell[])[],
  encode: CompiledTarget['encode'],
): Promise<LoadResult> {
  const keyIndexes = target.primaryKey.map((key) => {
    const index = target.columns.findIndex((c) => c.name === key);
    if (index === -1) throw new InvalidIdentifierError(`The key column "${key}" is not among the loaded columns.`);
    return index;
  });
  const lastOfKey = new Map<string, readonly Cell[]>();
  for (const row of rows) lastOfKey.set(JSON.stringify(keyIndexes.map((i) => row[i])), row);
  const unique = [...lastOfKey.values()];

  const staging = `load_${randomBytes(6).toString('hex')}`;
  const table = qualifiedName(target.schema, target.table);
  const columns = target.columns.map((c) => quoteIdent(c.name));
  const keys = target.primaryKey.map(quoteIdent);
  const nonKey = target.columns.filter((c) => !target.primaryKey.includes(c.name)).map((c) => quoteIdent(c.name));
  const onConflict =
    nonKey.length === 0
      ? 'NOTHING'
      : `UPDATE SET ${nonKey.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, ` +
        `${quoteIdent(SYSTEM_COLUMNS.extractedAt)} = now()`;
  // Dropped explicitly on success; on failure the caller's ROLLBACK takes it away with everything else.
  await client.query(`CREATE TEMPORARY TABLE ${quoteIdent(staging)} (LIKE ${table} INCLUDING DEFAULTS)`);
  const bytes = await copyRows(client, copySql(quoteIdent(staging), target), unique, encode, target);
  await client.query(
    `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM ${quoteIdent(staging)}
     ON CONFLICT (${keys.join(', ')}) DO ${onConflict}`,
  );
  await client.query(`DROP TABLE ${quoteIdent(staging)}`);
  return { rows: unique.length, bytes };
}
