import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDataflow } from '../../control-plane/dataflows';
import { migrateToLatest } from '../../control-plane/migrate';
import { SecretBox } from '../../control-plane/secret-box';
import { createTestDatabase } from '../support/database';

export interface ScratchDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  /**
   * Creates a dataflow named `<prefix><n>` (n counts the dataflows made so far), with a made-up key and no tables
   * selected: its id, name and warehouse schema (the name in lower case).
   */
  newDataflow(prefix: string): Promise<{ id: string; name: string; schema: string }>;
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
  const secrets = SecretBox.fromKey(randomBytes(32));
  let dataflows = 0;
  return {
    name: database.name,
    url: database.url,
    pool,
    newDataflow: async (prefix) => {
      const created = await createDataflow(pool, secrets, {
        name: `${prefix}${++dataflows}`,
        apiKey: 'pk_abcdefghijklmnopqrstuvwxyz01234567',
        tables: [],
      });
      return { id: created.id, name: created.name, schema: created.name.toLowerCase() };
    },
    drop: async () => {
      dropping = true;
      await pool.end();
      await database.drop();
    },
  };
}
