import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { qualifiedName, quoteIdent, versionedTableName } from '../warehouse/identifiers';

/**
 * Floor (b): the rows the engine loaded, as COPY text, streamed with a bare `COPY … FROM STDIN` into
 * tables without index or key — one connection per table, all tables at once, as the engine loads
 * them. The COPY text is dumped from the engine's own version tables first (not timed), so the floor
 * loads exactly the same rows and columns.
 */
export interface CopyFloorTable {
  table: string;
  rows: number;
  bytes: number;
  seconds: number;
}

export interface CopyFloor {
  seconds: number;
  tables: CopyFloorTable[];
}

export interface CopyFloorInput {
  databaseUrl: string;
  /** The dataflow's warehouse schema. */
  schema: string;
  version: number;
  /** Table name → the columns the engine COPYs, in order. */
  columns: Record<string, readonly string[]>;
  /** Where the COPY text is kept while the floor runs (deleted afterwards). */
  dir: string;
}

const FLOOR_SCHEMA = 'bench_copy_floor';

export async function measureCopyFloor(input: CopyFloorInput): Promise<CopyFloor> {
  const admin = new pg.Client({ connectionString: input.databaseUrl });
  await admin.connect();
  const files: string[] = [];
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${FLOOR_SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${FLOOR_SCHEMA}`);
    const prepared: { table: string; file: string; bytes: number; sql: string }[] = [];
    for (const [table, columns] of Object.entries(input.columns)) {
      const list = columns.map(quoteIdent).join(', ');
      const source = qualifiedName(input.schema, versionedTableName(table, input.version));
      const target = qualifiedName(FLOOR_SCHEMA, table);
      // Types and defaults (the engine leaves _version and _extracted_at to them), no key, no index.
      await admin.query(`CREATE TABLE ${target} (LIKE ${source} INCLUDING DEFAULTS)`);
      const file = path.join(input.dir, `copy-floor-${table}.txt`);
      files.push(file);
      await pipeline(admin.query(copyTo(`COPY (SELECT ${list} FROM ${source}) TO STDOUT`)), fs.createWriteStream(file));
      prepared.push({ table, file, bytes: fs.statSync(file).size, sql: `COPY ${target} (${list}) FROM STDIN` });
    }
    await admin.query('CHECKPOINT');

    const started = performance.now();
    const tables = await Promise.all(
      prepared.map(async ({ table, file, bytes, sql }) => {
        const client = new pg.Client({ connectionString: input.databaseUrl });
        await client.connect();
        try {
          const tableStarted = performance.now();
          const stream = client.query(copyFrom(sql));
          await pipeline(fs.createReadStream(file, { highWaterMark: 256 * 1024 }), stream);
          return { table, rows: Number(stream.rowCount), bytes, seconds: (performance.now() - tableStarted) / 1000 };
        } finally {
          await client.end();
        }
      }),
    );
    return { seconds: (performance.now() - started) / 1000, tables };
  } finally {
    for (const file of files) fs.rmSync(file, { force: true });
    await admin.query(`DROP SCHEMA IF EXISTS ${FLOOR_SCHEMA} CASCADE`).catch(() => undefined);
    await admin.end();
  }
}
