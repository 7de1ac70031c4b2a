import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PageStrings } from '../klaviyo/page-check';
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

/**
 * Rows already encoded as COPY text (see {@link encodeRows}), in chunks of whole rows. Extraction
 * encodes each page as it arrives and keeps only this text until the batch is written: the parsed
 * page dies young, which spares the garbage collector and keeps the worker's memory small.
 */
export interface EncodedRows {
  chunks: readonly Buffer[];
  /** Rows in all chunks together. */
  rows: number;
}

/** Rows are encoded and sent in slices of this many, so memory stays bounded by the batch itself. */
const ROWS_PER_CHUNK = 2000;

interface CompiledTarget {
  copySql: string;
  encode: (rows: readonly (readonly Cell[])[]) => string;
}
const compiled = new WeakMap<CopyTarget, CompiledTarget>();

/**
 * `rows` as one chunk of COPY text for `target`: one cell per target column, in order. With `strings:
 * 'bytes'` the rows' strings are UTF-8 bytes (see byte-strings.ts), so the text is written out byte for byte.
 * (COPY's escapes are ASCII; the one non-ASCII replacement, U+0000 → U+FFFD, is never met there: a page
 * holding a `\u0000` escape is never read as byte strings.)
 */
export function encodeRows(
  target: CopyTarget,
  rows: readonly (readonly Cell[])[],
  strings: PageStrings = 'text',
): Buffer {
  return Buffer.from(compile(target).encode(rows), strings === 'bytes' ? 'latin1' : 'utf8');
}

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
  const chunks: Buffer[] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
    chunks.push(encodeRows(target, rows.slice(start, start + ROWS_PER_CHUNK)));
  }
  return loadEncoded(client, target, { chunks, rows: rows.length }, options);
}

/** {@link loadBatch} for rows encoded beforehand with {@link encodeRows}. */
export async function loadEncoded(
  client: pg.ClientBase,
  target: CopyTarget,
  encoded: EncodedRows,
  options: LoadOptions = {},
): Promise<LoadResult> {
  if (encoded.rows === 0) return { rows: 0, bytes: 0 };
  const { copySql } = compile(target);
  if (options.onDuplicate === 'replace') return replaceBatch(client, target, encoded);
  const bytes = await copyChunks(client, copySql, encoded.chunks, target);
  return { rows: encoded.rows, bytes };
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

async function copyChunks(
  client: pg.ClientBase,
  sql: string,
  chunks: readonly Buffer[],
  target: CopyTarget,
): Promise<number> {
  try {
    await pipeline(Readable.from(chunks, { objectMode: false }), client.query(copyFrom(sql)));
  } catch (err) {
    throw DuplicateRowError.orError(err, `${target.schema}.${target.table}`);
  }
  return chunks.reduce((n, chunk) => n + chunk.length, 0);
}

/** Orders the rows of a replace batch in the staging table, so the last row of a key can win. */
const LOAD_ORDER = '_load_order';

/** COPY into a temporary twin, then upsert: the last row of a key in the batch wins, and wins over the table. */
async function replaceBatch(client: pg.ClientBase, target: CopyTarget, encoded: EncodedRows): Promise<LoadResult> {
  for (const key of target.primaryKey) {
    if (!target.columns.some((c) => c.name === key)) {
      throw new InvalidIdentifierError(`The key column "${key}" is not among the loaded columns.`);
    }
  }
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
  // The identity column numbers rows in COPY order (it is not in the COPY's column list).
  await client.query(
    `CREATE TEMPORARY TABLE ${quoteIdent(staging)} (LIKE ${table} INCLUDING DEFAULTS, ` +
      `${quoteIdent(LOAD_ORDER)} bigint GENERATED ALWAYS AS IDENTITY)`,
  );
  const bytes = await copyChunks(client, copySql(quoteIdent(staging), target), encoded.chunks, target);
  const { rows } = await client.query<{ rows: string }>(
    `WITH latest AS (
       SELECT DISTINCT ON (${keys.join(', ')}) ${columns.join(', ')} FROM ${quoteIdent(staging)}
       ORDER BY ${keys.join(', ')}, ${quoteIdent(LOAD_ORDER)} DESC
     ), upsert AS (
       INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM latest
       ON CONFLICT (${keys.join(', ')}) DO ${onConflict}
     )
     SELECT count(*) AS rows FROM latest`,
  );
  await client.query(`DROP TABLE ${quoteIdent(staging)}`);
  return { rows: Number(rows[0].rows), bytes };
}
