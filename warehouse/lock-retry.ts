import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { PG_ERRORS, pgErrorCode, withTransaction } from '../control-plane/postgres';
import { WarehouseBusyError } from './errors';

export interface LockRetryOptions {
  /**
   * How long one attempt waits for a lock, in ms. Below Postgres' `deadlock_timeout` (1 s by
   * default) on purpose: when a reader and this transaction wait on each other, this one gives up
   * first and the reader's query succeeds.
   * @default 500
   */
  lockTimeoutMs?: number;
  /** @default 20 */
  attempts?: number;
}

/**
 * Runs DDL that takes exclusive locks in a transaction that gives up quickly when readers hold
 * them, and tries again after a growing, jittered pause (between attempts readers go on as usual;
 * a long wait would instead queue every new reader behind us). Throws a {@link WarehouseBusyError}
 * (retryable) when every attempt timed out.
 */
export async function withLockRetry<T>(
  pool: pg.Pool,
  what: string,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: LockRetryOptions = {},
): Promise<T> {
  const lockTimeoutMs = Math.max(1, Math.floor(options.lockTimeoutMs ?? 500));
  const attempts = Math.max(1, Math.floor(options.attempts ?? 20));
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTransaction(pool, async (client) => {
        await client.query(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
        return fn(client);
      });
    } catch (err) {
      const code = pgErrorCode(err);
      if (code !== PG_ERRORS.lockNotAvailable && code !== PG_ERRORS.deadlockDetected) throw err;
      if (attempt >= attempts) {
        throw new WarehouseBusyError(
          `Could not ${what}: other sessions kept the tables locked through ${attempts} attempts ` +
            `(long-running queries or open transactions on them?). Nothing was changed; try again.`,
        );
      }
      const pause = Math.min(1000, 25 * 2 ** attempt);
      await sleep(pause / 2 + Math.random() * (pause / 2));
    }
  }
}
