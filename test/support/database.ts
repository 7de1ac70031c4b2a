import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../stack/embedded-postgres';

/** The server test databases are created on, unless nothing listens there. */
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of its own for one test file. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Drops the database (disconnecting whoever is still connected). */
  drop(): Promise<void>;
}

/**
 * Creates a uniquely named database on `TEST_DATABASE_URL` (default: the local Postgres on 5432). When nothing
 * listens there, an embedded Postgres is started in a temporary directory instead, shared by this file's databases
 * and stopped when the last of them is dropped.
 */
export async function createTestDatabase(options: { prefix?: string } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  const name = uniqueName(options.prefix ?? 'test');
  const server = await reachable(serverUrl).then((up) => (up ? external(serverUrl) : acquireEmbedded()));
  try {
    await withClient(server.adminUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
  } catch (err) {
    await server.release();
    throw err;
  }
  let dropped = false;
  return {
    url: databaseUrl(server.adminUrl, name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await withClient(server.adminUrl, (client) =>
          client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
        );
      } finally {
        await server.release();
      }
    },
  };
}

interface DatabaseServer {
  adminUrl: string;
  release(): Promise<void>;
}

function external(adminUrl: string): DatabaseServer {
  return { adminUrl, release: async () => undefined };
}

let embedded: { server: Promise<EmbeddedPostgres>; dir: string; users: number } | undefined;

async function acquireEmbedded(): Promise<DatabaseServer> {
  if (!embedded) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-test-postgres-'));
    // As root the server runs as the `postgres` user, who must be able to enter the directory.
    fs.chmodSync(dir, 0o755);
    embedded = {
      dir,
      users: 0,
      server: startEmbeddedPostgres({ dir, port: 0, database: 'postgres', durable: false }),
    };
  }
  const current = embedded;
  current.users += 1;
  let server: EmbeddedPostgres;
  try {
    server = await current.server;
  } catch (err) {
    if (embedded === current) embedded = undefined;
    fs.rmSync(current.dir, { recursive: true, force: true });
    throw err;
  }
  return {
    adminUrl: server.url,
    async release() {
      current.users -= 1;
      if (current.users > 0) return;
      if (embedded === current) embedded = undefined;
      await server.stop();
      fs.rmSync(current.dir, { recursive: true, force: true });
    },
  };
}

/** Whether a Postgres server listens at `url` (a refused connection means no; any other failure is reported). */
async function reachable(url: string): Promise<boolean> {
  try {
    await withClient(url, (client) => client.query('SELECT 1'));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') return false;
    throw err;
  }
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  return `${clean}_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The rows of one statement, on a connection of its own (closed after), as a reader would run it. */
export async function queryRows<T>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}
