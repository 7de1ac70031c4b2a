import fs from 'node:fs';
import path from 'node:path';
import { readConfig } from '../shared/config';
import { startSandbox, type Sandbox, type SandboxSizes } from '../sandbox/server';
import { isListening, pickPort } from './free-port';
import { isProcessAlive, logTail, startProcess, waitFor, type ManagedProcess } from './managed-process';
import { startPostgres, urlWithoutPassword, type Postgres } from './postgres';
import { projectRoot } from './project-root';
import { findRunningStack, readStackFile, removeStackFile, writeStackFile, type StackFile } from './stack-file';
import { startTemporalServer, type TemporalServer } from './temporal-server';
import { buildWorker, workerCommand } from '../worker/worker-command';

export interface StackOptions {
  /** @default readConfig().dataDir (`DATAFLOW_DATA_DIR`, else `./.data`) */
  dataDir?: string;
  /** An existing Postgres; unset starts the embedded one. @default readConfig().databaseUrl (`DATABASE_URL`) */
  databaseUrl?: string;
  /** @default readConfig().temporalNamespace */
  namespace?: string;
  /** Temporal's gRPC port; a free one when taken. @default 7233 */
  temporalPort?: number;
  /** Serve Temporal's Web UI. @default true */
  ui?: boolean;
  /** A free one when taken. @default 8233 */
  uiPort?: number;
  /** A free one when taken. @default 8180 */
  sandboxPort?: number;
  /** @default 1 */
  sandboxSeed?: number;
  /** @default the sandbox's DEFAULT_SIZES */
  sandboxSizes?: Partial<SandboxSizes>;
  /** Start `worker/main.ts` as a child process. @default true */
  worker?: boolean;
  /** Start the Imports console (`console/main.ts`) as a child process. @default true */
  console?: boolean;
  /** A free one when taken. @default 8234 */
  consolePort?: number;
  /** Where progress and warnings go. @default console.log */
  log?: (line: string) => void;
}

/** A running local stack. */
export interface Stack {
  /** What `<dataDir>/stack.json` holds. */
  readonly info: StackFile;
  /** The Temporal dev server. */
  readonly temporal: TemporalServer;
  /** The in-process Klaviyo sandbox, e.g. to advance its clock or inject faults. */
  readonly sandbox: Sandbox;
  /** Restarts Temporal on the same ports and SQLite file (a resilience test's outage) and records its new pid. */
  restartTemporal(): Promise<void>;
  /** Stops the worker, the sandbox, Temporal and Postgres, in that order; safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown by `startStack` when `<dataDir>/stack.json` describes a stack that is running. */
export class StackAlreadyRunningError extends Error {
  readonly type = 'StackAlreadyRunning';
  constructor(readonly running: StackFile) {
    super(`A local stack is already running (pid ${running.pid}, Temporal at ${running.temporal.address})`);
    this.name = 'StackAlreadyRunningError';
  }
}

/**
 * Brings up Postgres and the Temporal dev server (side by side), then the Klaviyo sandbox and a worker, and writes
 * `<dataDir>/stack.json`. A failure part-way stops whatever had started.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const config = readConfig();
  const dataDir = path.resolve(options.dataDir ?? config.dataDir);
  const log = options.log ?? ((line: string) => console.log(line));
  fs.mkdirSync(dataDir, { recursive: true });

  const running = await findRunningStack(dataDir);
  if (running) throw new StackAlreadyRunningError(running);
  await stopLeftovers(dataDir, log);

  const stops: Array<() => Promise<void>> = [];
  const state = { stopping: false };
  const stopAll = async () => {
    state.stopping = true;
    // Reverse order of start: the worker goes first so it stops polling before Temporal disappears.
    for (const stop of stops.splice(0).reverse()) {
      await stop().catch((err: unknown) => log(`warning: ${(err as Error).message}`));
    }
    removeStackFile(dataDir, process.pid);
  };

  try {
    const ui = options.ui ?? true;
    const temporalPort = await pickPort(options.temporalPort ?? 7233);
    const uiPort = ui ? await pickPort(options.uiPort ?? 8233) : undefined;
    // The worker runs what `npm run build` writes: built now, while Postgres and Temporal start, so that it runs the
    // sources as they are. Awaited before the worker starts (handled here, so a failure to start them first is the error).
    const built = (options.worker ?? true) ? buildWorker(projectRoot()) : Promise.resolve();
    built.catch(() => undefined);
    const [postgresResult, temporalResult] = await Promise.allSettled([
      startPostgres({ dataDir, databaseUrl: options.databaseUrl ?? config.databaseUrl }),
      startTemporalServer({
        logFile: path.join(dataDir, 'temporal.log'),
        dbFile: path.join(dataDir, 'temporal.db'),
        port: temporalPort,
        ui,
        uiPort,
        namespace: options.namespace ?? config.temporalNamespace,
      }),
    ]);
    if (postgresResult.status === 'fulfilled') stops.push(() => postgresResult.value.stop());
    if (temporalResult.status === 'fulfilled') stops.push(() => temporalResult.value.stop());
    if (postgresResult.status === 'rejected') throw postgresResult.reason;
    if (temporalResult.status === 'rejected') throw temporalResult.reason;
    const postgres: Postgres = postgresResult.value;
    const temporal: TemporalServer = temporalResult.value;

    const sandbox = await startSandbox({
      port: await pickPort(options.sandboxPort ?? 8180),
      seed: options.sandboxSeed ?? 1,
      sizes: options.sandboxSizes,
    });
    stops.push(() => sandbox.close());

    let worker: ManagedProcess | undefined;
    if (options.worker ?? true) {
      worker = await startWorkerProcess({ dataDir, postgres, temporal, log, state, built });
      if (worker) {
        const started = worker;
        stops.push(async () => {
          await started.stop({ signal: 'SIGTERM', timeoutMs: 30_000 });
        });
      }
    }

    let consoleProcess: { url: string; process: ManagedProcess } | undefined;
    if (options.console ?? true) {
      consoleProcess = await startConsoleProcess({
        dataDir,
        postgres,
        temporal,
        port: await pickPort(options.consolePort ?? 8234),
        log,
        state,
      });
      if (consoleProcess) {
        const started = consoleProcess.process;
        stops.push(async () => {
          await started.stop({ signal: 'SIGTERM', timeoutMs: 10_000 });
        });
      }
    }

    const info: StackFile = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      dataDir,
      temporal: {
        address: temporal.address,
        namespace: temporal.namespace,
        uiUrl: temporal.uiUrl ?? null,
        pid: temporal.pid ?? null,
        logFile: temporal.logFile,
      },
      postgres: { url: postgres.url, embedded: postgres.embedded, pid: postgres.pid ?? null },
      sandbox: { baseUrl: sandbox.baseUrl, keys: sandbox.keys },
      worker: worker ? { pid: worker.pid, logFile: worker.logFile } : null,
      console: consoleProcess
        ? { url: consoleProcess.url, pid: consoleProcess.process.pid, logFile: consoleProcess.process.logFile }
        : null,
    };
    writeStackFile(dataDir, info);
    return {
      info,
      temporal,
      sandbox,
      stop: stopAll,
      async restartTemporal() {
        await temporal.restart();
        info.temporal.pid = temporal.pid ?? null;
        writeStackFile(dataDir, info);
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startWorkerProcess(args: {
  dataDir: string;
  postgres: Postgres;
  temporal: TemporalServer;
  log: (line: string) => void;
  state: { stopping: boolean };
  /** The build of dist/worker.js (buildWorker). */
  built: Promise<void>;
}): Promise<ManagedProcess | undefined> {
  const root = projectRoot();
  const entry = path.join(root, 'worker', 'main.ts');
  if (!fs.existsSync(entry)) {
    args.log(`warning: ${path.relative(root, entry)} does not exist yet; starting without a worker`);
    return undefined;
  }
  await args.built;
  const logFile = path.join(args.dataDir, 'worker.log');
  const command = workerCommand(root);
  const worker = await startProcess(command.command, command.args, {
    cwd: root,
    logFile,
    env: { ...childEnv(args.dataDir, args.postgres, args.temporal), ...command.env },
  });
  worker.exited
    .then(({ code, signal }) => {
      if (!args.state.stopping) {
        const how = signal ? `on ${signal}` : `with code ${code}`;
        args.log(`warning: the worker exited ${how}. Last lines of ${logFile}:\n${logTail(logFile)}`);
      }
    })
    .catch(() => undefined);
  return worker;
}

/** The environment a child of the stack (worker, console) finds Postgres, Temporal and the data directory by. */
function childEnv(dataDir: string, postgres: Postgres, temporal: TemporalServer): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    DATAFLOW_DATA_DIR: dataDir,
    ...(temporal.uiUrl ? { TEMPORAL_UI_URL: temporal.uiUrl } : {}),
  };
}

/**
 * The console as a child process (`tsx console/main.ts`), so the stack imports nothing of it; ready once its
 * port answers. A console that cannot start is a warning, not the end of the stack: the CLI still works.
 */
async function startConsoleProcess(args: {
  dataDir: string;
  postgres: Postgres;
  temporal: TemporalServer;
  port: number;
  log: (line: string) => void;
  state: { stopping: boolean };
}): Promise<{ url: string; process: ManagedProcess } | undefined> {
  const root = projectRoot();
  const entry = path.join(root, 'console', 'main.ts');
  if (!fs.existsSync(entry)) return undefined;
  const logFile = path.join(args.dataDir, 'console.log');
  const child = await startProcess(process.execPath, [require.resolve('tsx/cli'), entry], {
    cwd: root,
    logFile,
    env: {
      ...childEnv(args.dataDir, args.postgres, args.temporal),
      DATAFLOW_CONSOLE_PORT: String(args.port),
    },
  });
  const host = process.env.DATAFLOW_CONSOLE_HOST || '127.0.0.1';
  const ready = await waitFor(async () => !child.isRunning() || (await isListening(args.port, host)), 30_000, 200);
  if (!ready || !child.isRunning()) {
    args.log(`warning: the console did not start. Last lines of ${logFile}:\n${logTail(logFile)}`);
    await child.stop({ timeoutMs: 2_000 });
    return undefined;
  }
  child.exited
    .then(({ code, signal }) => {
      if (!args.state.stopping)
        args.log(`warning: the console exited ${signal ? `on ${signal}` : `with code ${code}`}`);
    })
    .catch(() => undefined);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${args.port}/imports`, process: child };
}

/**
 * A stack whose process died without stopping (kill -9, a crash) leaves its Temporal server and worker running and
 * holding their ports. Stop them, checking each pid still runs what we started. (An orphaned embedded Postgres is
 * handled by `startEmbeddedPostgres` through its postmaster.pid.)
 */
async function stopLeftovers(dataDir: string, log: (line: string) => void): Promise<void> {
  const stale = readStackFile(dataDir);
  if (!stale || isProcessAlive(stale.pid)) return;
  const leftovers = [
    { pid: stale.temporal.pid, marker: 'start-dev', what: 'Temporal dev server' },
    { pid: stale.worker?.pid ?? null, marker: path.join('dist', 'worker.js'), what: 'worker' },
    { pid: stale.console?.pid ?? null, marker: path.join('console', 'main.ts'), what: 'console' },
  ];
  for (const { pid, marker, what } of leftovers) {
    if (pid === null || !isProcessAlive(pid) || !commandLineIncludes(pid, marker)) continue;
    log(`Stopping the ${what} (pid ${pid}) left behind by an earlier stack`);
    process.kill(pid, 'SIGTERM');
    if (!(await waitFor(() => !isProcessAlive(pid), 15_000))) process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(path.join(dataDir, 'stack.json'), { force: true });
}

function commandLineIncludes(pid: number, marker: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(marker);
  } catch {
    return false;
  }
}

/** Where each part of a stack is, one aligned line per part: printed by `npm run stack` and the demo. */
export function describeStack(info: StackFile): string {
  const rows: Array<[string, string]> = [
    ['Temporal', `${info.temporal.address} (namespace ${info.temporal.namespace}; log ${info.temporal.logFile})`],
    ['Console', info.console ? `${info.console.url} (log ${info.console.logFile})` : '(not started)'],
    ['Web UI', info.temporal.uiUrl ?? '(headless)'],
    ['Postgres', `${urlWithoutPassword(info.postgres.url)}${info.postgres.embedded ? ' (embedded)' : ''}`],
    ['Sandbox', `${info.sandbox.baseUrl} (API keys in stack.json)`],
    ['Worker', info.worker ? `pid ${info.worker.pid} (log ${info.worker.logFile})` : '(not started)'],
    ['State', path.join(info.dataDir, 'stack.json')],
  ];
  return rows.map(([name, value]) => `  ${name.padEnd(9)} ${value}`).join('\n');
}

/** `npm run stack`: brings the stack up and keeps it up until SIGINT, SIGTERM or SIGHUP. */
async function main(): Promise<void> {
  // Listen from the start: a Ctrl-C while starting must still stop what has started (children run in their own
  // process groups, so the terminal's signal reaches only us).
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let stopSignal: NodeJS.Signals | undefined;
  let wake = () => {};
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal means "now": leave without waiting for the orderly shutdown.
    if (stopSignal) process.exit(1);
    stopSignal = signal;
    console.log(`\n${signal}: stopping the worker, the sandbox, Temporal and Postgres...`);
    wake();
  };
  for (const signal of signals) process.on(signal, onSignal);

  const started = Date.now();
  let stack: Stack;
  try {
    stack = await startStack();
  } catch (err) {
    if (err instanceof StackAlreadyRunningError) {
      console.log(`A local stack is already running (pid ${err.running.pid}):\n${describeStack(err.running)}`);
      return;
    }
    throw err;
  }
  if (stopSignal === undefined) {
    console.log(`Local stack up in ${((Date.now() - started) / 1000).toFixed(1)} s:\n${describeStack(stack.info)}`);
    console.log('Press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
  await stack.stop();
  for (const signal of signals) process.off(signal, onSignal);
  console.log('Stopped.');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
