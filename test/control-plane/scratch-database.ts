import pg from 'pg';
import { migrateToLatest } from '../../control-plane/migrate';
import { createTestDatabase } from '../support/database';

export interface ScratchDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh database (test/support/database.ts) with the control plane migrated and a pool on it, for one test file. */
export async function createScratchDatabase(
  prefix: string,
  options: { migrate?: boolean } = {},
): Promise<ScratchDatabase> {
  const database = await createTestDatabase({ prefix });
  if (options.migrate ?? true) await migrateToLatest(database.url);
  const pool = new pg.Pool({ connectionString: database.url, max: 8 });
  // pool.end() resolves before its clients' sockets are closed, so DROP DATABASE ... WITH (FORCE)
  // may terminate one on its way out; that (57P01) is expected here, anything else is not.
  let dropping = false;
  pool.on('error', (err: Error & { code?: string }) => {
    if (!(dropping && err.code === '57P01')) throw err;
  });
  return {
    name: database.name,
    url: database.url,
    pool,
    drop: async () => {
      dropping = true;
      await pool.end();
      await database.drop();
    },
  };
}
