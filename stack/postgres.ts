import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres';

export interface PostgresOptions {
  /** The local data directory; the embedded cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  /** Use this server instead of the embedded one (typically `DATABASE_URL`). */
  databaseUrl?: string;
  /** Port of the embedded server. @default the remembered port, else 54329 (or a free one when taken) */
  port?: number;
  /** Database of the embedded server. @default 'dataflows' */
  database?: string;
}

export interface Postgres {
  /** Connection URL, password included: never print it, print `urlWithoutPassword(url)`. */
  readonly url: string;
  /** Whether we started it (the embedded server) rather than being given it. */
  readonly embedded: boolean;
  readonly pid: number | undefined;
  /** Stops the embedded server; a given server is left alone. */
  stop(): Promise<void>;
}

/**
 * The stack's database: the server at `databaseUrl` when given (checked to accept connections), otherwise an
 * embedded PostgreSQL under `<dataDir>/postgres`, initialised on first use and reused afterwards.
 */
export async function startPostgres(options: PostgresOptions): Promise<Postgres> {
  if (options.databaseUrl) {
    await checkConnects(options.databaseUrl);
    return { url: options.databaseUrl, embedded: false, pid: undefined, stop: async () => undefined };
  }
  const server = await startEmbeddedPostgres({
    dir: path.join(options.dataDir, 'postgres'),
    port: options.port,
    database: options.database,
  });
  return { url: server.url, embedded: true, pid: server.pid, stop: () => server.stop() };
}

/** The URL with its password left out, for printing. */
export function urlWithoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

async function checkConnects(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`Cannot connect to the database at ${urlWithoutPassword(url)}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
