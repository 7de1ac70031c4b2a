import pg from 'pg';
import { withTransaction } from '../../control-plane/postgres';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database';

describe('withTransaction', () => {
  let scratch: ScratchDatabase;
  /** Sessions that wait for the flush whatever the server's default (the embedded test server's is off). */
  let db: { pool: pg.Pool };

  beforeAll(async () => {
    scratch = await createScratchDatabase('tx', { migrate: false });
    db = { pool: new pg.Pool({ connectionString: scratch.url, max: 2, options: '-c synchronous_commit=on' }) };
    await db.pool.query('CREATE TABLE written (n int)');
  });
  afterAll(async () => {
    await db?.pool.end();
    await scratch?.drop();
  });

  const setting = (client: { query: pg.Pool['query'] }) =>
    client.query<{ synchronous_commit: string }>('SHOW synchronous_commit').then((r) => r.rows[0].synchronous_commit);

  test('an asynchronous commit turns synchronous_commit off for that transaction only, and commits', async () => {
    const inside = await withTransaction(
      db.pool,
      async (client) => {
        await client.query('INSERT INTO written VALUES (1)');
        return setting(client);
      },
      { asynchronousCommit: true },
    );
    expect(inside).toBe('off');
    // The pool's clients are shared: the next transaction on any of them waits for the flush again.
    const clients = await Promise.all([db.pool.connect(), db.pool.connect()]);
    try {
      for (const client of clients) expect(await setting(client)).toBe('on');
    } finally {
      for (const client of clients) client.release();
    }
    expect(await withTransaction(db.pool, (client) => setting(client))).toBe('on');
    const { rows } = await db.pool.query<{ n: number }>('SELECT n FROM written');
    expect(rows).toEqual([{ n: 1 }]);
  });

  test('a failure in an asynchronous-commit transaction rolls it back', async () => {
    const failure = await withTransaction(
      db.pool,
      async (client) => {
        await client.query('INSERT INTO written VALUES (2)');
        throw new Error('the batch was refused');
      },
      { asynchronousCommit: true },
    ).catch((err: unknown) => err);
    expect(failure).toEqual(new Error('the batch was refused'));
    const { rows } = await db.pool.query<{ n: number }>('SELECT n FROM written ORDER BY n');
    expect(rows).toEqual([{ n: 1 }]);
  });
});
