import { queryRows } from './database';
import type { TestEngine } from './engine';

/**
 * Set-up the engine tests repeated file by file: dataflows on the engine's sandbox, SQL against its database, and the
 * comparison of two versions of a table.
 */
type CreateInput = Parameters<TestEngine['api']['create']>[0];

/**
 * Creates each named dataflow, reading the engine's sandbox with its full-access key and selecting `tables`;
 * `options` adds what else every one of them gets (fields, description…).
 */
export async function createDataflows(
  engine: TestEngine,
  names: readonly string[],
  tables: readonly string[],
  options: Partial<CreateInput> = {},
): Promise<void> {
  for (const name of names) {
    await engine.api.create({
      name,
      apiKey: engine.sandbox.keys.full,
      baseUrl: engine.sandbox.baseUrl,
      tables: [...tables],
      ...options,
    });
  }
}

export type Query = <T>(sql: string, values?: unknown[]) => Promise<T[]>;

/**
 * SQL against the database of the engine `engine()` returns (read when a query runs, so a file can make this before its
 * `beforeAll` starts the engine): the rows.
 */
export function engineQuery(engine: () => TestEngine): Query {
  return <T>(sql: string, values: unknown[] = []) => queryRows<T>(engine().database.url, sql, values);
}

/** Rows of version `a` of a table not in version `b`, and of `b` not in `a` (all counted), system columns left out. */
export async function versionDifferences(
  query: Query,
  schema: string,
  table: string,
  a: number,
  b: number,
): Promise<number> {
  const columns = await query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = '${schema}' AND table_name = '${table}__v${a}'
       AND column_name NOT IN ('_version', '_extracted_at')`,
  );
  const list = columns.map((c) => `"${c.column_name}"`).join(', ');
  const side = (x: number, y: number) =>
    `(SELECT ${list} FROM ${schema}."${table}__v${x}" EXCEPT ALL SELECT ${list} FROM ${schema}."${table}__v${y}")`;
  const [{ count }] = await query<{ count: string }>(
    `SELECT count(*) AS count FROM (${side(a, b)} UNION ALL ${side(b, a)}) d`,
  );
  return Number(count);
}
