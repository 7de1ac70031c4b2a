import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isProcessAlive } from '../../stack/managed-process';
import { startPostgres, urlWithoutPassword, type Postgres } from '../../stack/postgres';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('the embedded Postgres, used when there is no DATABASE_URL', () => {
  let dataDir: string;
  let first: Postgres;
  let second: Postgres;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-postgres-'));
    // As root the server runs as `postgres`, who must be able to enter the data directory.
    fs.chmodSync(dataDir, 0o755);
    first = await startPostgres({ dataDir, port: 0 });
    await query(first.url, 'CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)');
    await first.stop();
    second = await startPostgres({ dataDir });
  });
  afterAll(async () => {
    await second?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('is a real PostgreSQL with a database named dataflows', async () => {
    const [row] = await query(second.url, 'SELECT current_database() AS db, version() AS version');
    expect(row).toEqual({ db: 'dataflows', version: expect.stringMatching(/^PostgreSQL \d+/) });
    expect(second.embedded).toBe(true);
  });

  it('keeps its data and its port across a stop and a start', async () => {
    expect(new URL(second.url).port).toBe(new URL(first.url).port);
    await expect(query(second.url, 'SELECT id FROM kept')).resolves.toEqual([{ id: 42 }]);
  });

  it('lives under <dataDir>/postgres and remembers its port there', () => {
    const settings = JSON.parse(fs.readFileSync(path.join(dataDir, 'postgres', 'settings.json'), 'utf8'));
    expect(settings.port).toBe(Number(new URL(second.url).port));
    expect(fs.statSync(path.join(dataDir, 'postgres', 'settings.json')).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'data', 'PG_VERSION'))).toBe(true);
  });

  it('requires a password that is not the well-known default', async () => {
    const url = new URL(second.url);
    url.password = 'password';
    await expect(query(url.toString(), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  });

  it('has the process of the first start ended by stop()', () => {
    expect(first.pid).toBeDefined();
    expect(isProcessAlive(first.pid as number)).toBe(false);
  });
});

describe('a Postgres given by DATABASE_URL', () => {
  let database: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    database = await createTestDatabase({ prefix: 'given_url' });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-given-url-'));
  });
  afterAll(async () => {
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('is used as it is, with no embedded server started', async () => {
    const postgres = await startPostgres({ dataDir, databaseUrl: database.url });
    await postgres.stop();
    expect({ url: postgres.url, embedded: postgres.embedded, pid: postgres.pid }).toEqual({
      url: database.url,
      embedded: false,
      pid: undefined,
    });
    expect(fs.existsSync(path.join(dataDir, 'postgres'))).toBe(false);
    await expect(query(database.url, 'SELECT 1 AS one')).resolves.toEqual([{ one: 1 }]);
  });

  it('is reported without its password when it cannot be reached', async () => {
    const unreachable = 'postgres://someone:s3cret-Passw0rd@127.0.0.1:1/nowhere';
    const failure = startPostgres({ dataDir, databaseUrl: unreachable });
    await expect(failure).rejects.toThrow('Cannot connect to the database at postgres://someone@127.0.0.1:1/nowhere');
    await expect(failure).rejects.not.toThrow(/s3cret/);
  });
});

describe('urlWithoutPassword', () => {
  it('drops the password and keeps everything else', () => {
    expect(urlWithoutPassword('postgres://postgres:x%40y@127.0.0.1:54329/dataflows')).toBe(
      'postgres://postgres@127.0.0.1:54329/dataflows',
    );
  });
});

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql);
    return (Array.isArray(result) ? result[result.length - 1] : result).rows;
  } finally {
    await client.end();
  }
}
