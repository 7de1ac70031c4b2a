import pg from 'pg';
import { findFreePort, isListening } from '../../stack/free-port';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('createTestDatabase on the server at TEST_DATABASE_URL', () => {
  let first: TestDatabase;
  let second: TestDatabase;

  beforeAll(async () => {
    [first, second] = await Promise.all([createTestDatabase({ prefix: 'First' }), createTestDatabase()]);
  });
  afterAll(async () => {
    await first?.drop();
    await second?.drop();
  });

  it('gives each call a database of its own, named after the prefix', () => {
    expect(first.name).toMatch(/^first_\d+_[0-9a-f]{8}$/);
    expect(second.name).not.toBe(first.name);
  });

  it('returns a URL that connects to that database', async () => {
    await expect(currentDatabase(first.url)).resolves.toBe(first.name);
  });

  it('drops the database, even with a client still connected', async () => {
    const extra = await createTestDatabase({ prefix: 'dropped' });
    const lingering = new pg.Client({ connectionString: extra.url });
    lingering.on('error', () => undefined);
    await lingering.connect();
    await extra.drop();
    await lingering.end().catch(() => undefined);
    await expect(currentDatabase(extra.url)).rejects.toThrow(`database "${extra.name}" does not exist`);
  });
});

describe('createTestDatabase when nothing listens at TEST_DATABASE_URL', () => {
  const saved = process.env.TEST_DATABASE_URL;
  let database: TestDatabase;
  let closedPort: number;

  beforeAll(async () => {
    closedPort = await findFreePort();
    process.env.TEST_DATABASE_URL = `postgres://postgres@127.0.0.1:${closedPort}/postgres`;
    database = await createTestDatabase({ prefix: 'fallback' });
  });
  afterAll(async () => {
    process.env.TEST_DATABASE_URL = saved;
    await database?.drop();
  });

  it('falls back to an embedded Postgres on another port', async () => {
    expect(Number(new URL(database.url).port)).not.toBe(closedPort);
    await expect(currentDatabase(database.url)).resolves.toBe(database.name);
  });

  it('stops the embedded Postgres when its last database is dropped', async () => {
    const port = Number(new URL(database.url).port);
    await database.drop();
    expect(await isListening(port)).toBe(false);
  });
});

async function currentDatabase(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    return rows[0].db;
  } finally {
    await client.end();
  }
}
