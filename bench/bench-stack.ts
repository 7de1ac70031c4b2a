import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DataflowApi } from '../client/dataflow-api';
import { startSandboxProcess, type SandboxProcess } from '../sandbox/child-process';
import type { SandboxSizes } from '../sandbox/sizes';
import { readConfig } from '../shared/config';
import { startPostgres, urlWithoutPassword } from '../stack/postgres';
import { findFreePort } from '../stack/free-port';
import { startTemporalServer, type TemporalServer } from '../stack/temporal-server';

/**
 * What the bench runs against: a Temporal dev server of its own (in memory, no UI), a scratch
 * database (created on `databaseUrl`'s server, or an embedded Postgres in a temporary directory), and
 * the environment a worker process needs.
 */
export interface BenchStack {
  readonly dir: string;
  readonly databaseUrl: string;
  readonly temporal: TemporalServer;
  /** The worker's environment, without KLAVIYO_RATE_LIMITS (each run sets it). */
  readonly env: NodeJS.ProcessEnv;
  /** A DataflowApi for this stack; the caller closes it. */
  connectApi(): Promise<DataflowApi>;
  stop(): Promise<void>;
}

export async function startBenchStack(options: { databaseUrl: string | undefined }): Promise<BenchStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-bench-'));
  // mkdtemp makes it 0700; an embedded Postgres run as root runs as the "postgres" user, who must get in.
  fs.chmodSync(dir, 0o755);
  const cleanups: (() => Promise<void>)[] = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(err));
  };
  try {
    const [temporal, databaseUrl] = await Promise.all([
      startTemporalServer({ logFile: path.join(dir, 'temporal.log'), port: 0, ui: false }).then((server) => {
        cleanups.push(() => server.stop());
        return server;
      }),
      scratchDatabase(options.databaseUrl, dir, cleanups),
    ]);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      DATAFLOW_DATA_DIR: dir,
      DATAFLOW_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    };
    delete env.KLAVIYO_RATE_LIMITS;
    const settings = {
      databaseUrl,
      temporalAddress: temporal.address,
      namespace: temporal.namespace,
      uiUrl: 'http://127.0.0.1:8233',
    };
    return {
      dir,
      databaseUrl,
      temporal,
      env,
      connectApi: () => DataflowApi.connect(readConfig(env), settings),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A database of the bench's own, dropped at the end: on the given server, else on an embedded Postgres. */
async function scratchDatabase(
  serverUrl: string | undefined,
  dir: string,
  cleanups: (() => Promise<void>)[],
): Promise<string> {
  if (!serverUrl) {
    const embedded = await startPostgres({ dataDir: dir, port: await findFreePort() });
    cleanups.push(() => embedded.stop());
    return embedded.url;
  }
  const name = `bench_${crypto.randomBytes(5).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  cleanups.push(async () => {
    await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  console.error(`bench: scratch database ${urlWithoutPassword(url.toString())}`);
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A sandbox child seeded with `seed`, of `sizes` (`catalogVariantsPerItem: 40` → `--catalog-variants-per-item 40`),
 * with its rate limits off: a run that wants them turns them on through the admin API. `more`: further flags.
 */
export function startBenchSandbox(
  seed: number,
  sizes: Partial<SandboxSizes>,
  more: readonly string[] = [],
): Promise<SandboxProcess> {
  const sizeFlags = Object.entries(sizes).flatMap(([key, n]) => [
    `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    String(n),
  ]);
  return startSandboxProcess(['--seed', String(seed), '--no-rate-limits', ...sizeFlags, ...more]);
}
