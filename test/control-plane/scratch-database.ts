import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateToLatest } from '../../activities/control-plane/migrate';

/** The server tests create their own databases on; override with TEST_POSTGRES_URL. */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh database with the control plane migrated, for one test file. */
export async function createScratchDatabase(
  prefix: string,
  options: { migrate?: boolean } = {},
): Promise<ScratchDatabase> {
  const name = `${prefix}_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  if (options.migrate ?? true) await migrateToLatest(url.toString());
  const pool = new pg.Pool({ connectionString: url.toString(), max: 8 });
  // pool.end() resolves before its clients' sockets are closed, so DROP DATABASE ... WITH (FORCE)
  // may terminate one on its way out; that (57P01) is expected here, anything else is not.
  let dropping = false;
  pool.on('error', (err: Error & { code?: string }) => {
    if (!(dropping && err.code === '57P01')) throw err;
  });
  return {
    name,
    url: url.toString(),
    pool,
    drop: async () => {
      dropping = true;
      await pool.end();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
