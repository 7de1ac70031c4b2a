import type pg from 'pg';

/** Anything that runs a query: a pool, a pooled client or a client. Single-statement functions take this. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;
/** A row whose snake_case column names are written in camelCase. */
export type CamelCased<Row> = { [K in keyof Row as K extends string ? CamelCase<K> : K]: Row[K] };

/** `row` with its column names in camelCase (`created_at` → `createdAt`), the values as they are. */
export function camelCased<Row extends object>(row: Row): CamelCased<Row> {
  const entries = Object.entries(row).map(([key, value]) => [
    key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
    value,
  ]);
  return Object.fromEntries(entries) as CamelCased<Row>;
}

/** The SQLSTATEs this code reacts to. */
export const PG_ERRORS = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  lockNotAvailable: '55P03',
  deadlockDetected: '40P01',
  dependentObjectsStillExist: '2BP01',
  undefinedTable: '42P01',
  duplicateSchema: '42P06',
  invalidTextRepresentation: '22P02',
} as const;

/** The SQLSTATE of a Postgres error, or undefined for anything else. */
export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** The constraint a Postgres error names, if any. */
export function pgErrorConstraint(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'constraint' in err && typeof err.constraint === 'string'
    ? err.constraint
    : undefined;
}

/** The detail line of a Postgres error (e.g. the key a unique violation repeats), if any. */
export function pgErrorDetail(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'detail' in err && typeof err.detail === 'string'
    ? err.detail
    : undefined;
}

/** How a transaction commits. */
export interface TransactionOptions {
  /**
   * Commit without waiting for the WAL flush (`SET LOCAL synchronous_commit = off`, sent with BEGIN in one round trip):
   * for writes that a crash may lose as long as it loses them whole, such as a batch and its checkpoint.
   */
  asynchronousCommit?: boolean;
}

/**
 * Runs `fn` in a transaction on a client of `pool`: COMMIT when it resolves, ROLLBACK when it throws.
 * A client whose connection broke, or whose ROLLBACK fails, is destroyed rather than returned to the pool.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no pool listener: a connection lost meanwhile (pg_terminate_backend, a network
  // cut) is emitted as an 'error' event that would crash the process. The failed query rejects too; that is
  // what the caller acts on, and the client is destroyed on release.
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    await client.query(options.asynchronousCommit ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error('ROLLBACK failed');
    }
    throw err;
  } finally {
    // A broken client keeps the listener: it may still report its closing socket after release.
    if (!broken) client.off('error', onError);
    client.release(broken);
  }
}
