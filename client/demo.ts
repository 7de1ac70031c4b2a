import path from 'node:path';
import { Command } from 'commander';
import { nonNegativeInt, positiveNumber } from '../shared/number-options';
import { apiKeyHint, maskApiKey } from '../secrets/api-key';
import { DataflowNotFoundError } from '../control-plane/errors';
import type { Dataflow } from '../control-plane/dataflows';
import type { SandboxSizes } from '../sandbox/server';
import { readConfig, type Config } from '../shared/config';
import { operationWorkflowId } from '../shared/operations';
import { findRunningStack, stackFilePath, type StackFile } from '../stack/stack-file';
import { describeStack, StackAlreadyRunningError, startStack, type Stack } from '../stack/up';
import { reportError } from './cli';
import { progressLine, renderDataflowList, renderEntities, renderHistory, renderRunResult } from './cli-output';
import { DataflowApi, type LiveProgress, type StartedOperation } from './dataflow-api';
import { runUrl, type RunRecord } from './run-history';
import { UserInputError } from '../shared/user-input-error';

/**
 * `npm run demo`: the product end to end on one machine. Uses the local stack when one runs (its `stack.json`),
 * otherwise starts one; creates (or reuses) the dataflow `KlaviyoDemo` on the sandbox account, runs it with live
 * progress, and prints what `dataflow list`, `entities` and `history` print, then where to look in the Web UI.
 */

export const DEMO_DATAFLOW = 'KlaviyoDemo';

/** The sandbox account the demo starts: modest, so a run takes seconds; `--profiles`/`--events` make it bigger. */
export const DEMO_SIZES = { profiles: 1000, events: 10_000 } as const satisfies Partial<SandboxSizes>;

/**
 * Klaviyo's rate-limit tiers times this, in the sandbox and in the worker's own budget alike: at the real limits (1)
 * the many small fan-out tables of the slow tiers alone take minutes, which a first look does not need.
 */
export const DEMO_RATE_SCALE = 10;

/** The sandbox seed of a stack the demo starts: the same seed gives the same data and the same API keys. */
export const DEMO_SANDBOX_SEED = 1;

export interface DemoOptions {
  /** Stop the stack the demo started once it is done, even on a terminal. @default false */
  exit: boolean;
  /** Keep the stack the demo started up until a signal, even when stdout is not a terminal. @default false */
  stay: boolean;
  profiles: number;
  events: number;
  /** Multiplies Klaviyo's rate limits in a stack the demo starts. @default DEMO_RATE_SCALE */
  rateScale: number;
  /** Which of the options above were given: they have no effect on a stack that runs already. */
  stackFlags: string[];
}

/** How long the history may lag behind a run that just ended (Temporal's visibility store is eventually consistent). */
const HISTORY_LAG_MS = 10_000;

/** Thrown into the demo's flow by Ctrl-C (or SIGTERM/SIGHUP). */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`Interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

/**
 * SIGINT, SIGTERM and SIGHUP, listened to from the start: a Ctrl-C at any moment must still stop what the demo
 * started (the stack's children run in their own process groups, so only this process gets the terminal's signal).
 */
class StopSignals {
  private static readonly NAMES: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  received: NodeJS.Signals | undefined;
  private readonly interrupted: Promise<never>;
  private interrupt: (err: Interrupted) => void = () => undefined;

  constructor(private readonly log: (line: string) => void) {
    this.interrupted = new Promise<never>((_, reject) => {
      this.interrupt = reject;
    });
    // Nobody may be racing against it when the signal arrives.
    this.interrupted.catch(() => undefined);
    for (const name of StopSignals.NAMES) process.on(name, this.onSignal);
  }

  private readonly onSignal = (signal: NodeJS.Signals) => {
    // A second signal means "now": leave without the orderly shutdown.
    if (this.received) process.exit(1);
    this.received = signal;
    this.log(`\n${signal}: stopping...`);
    this.interrupt(new Interrupted(signal));
  };

  /** `work`, unless a signal comes first. */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.interrupted]);
  }

  /** Resolves on the first signal. */
  async wait(): Promise<void> {
    await this.interrupted.catch(() => undefined);
  }

  dispose(): void {
    for (const name of StopSignals.NAMES) process.off(name, this.onSignal);
  }
}

export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  const onlyWhenStarting = '(only for a stack the demo starts)';
  const program = new Command('demo')
    .description(
      `Bring up the local stack (or use the running one), import the sandbox account as the dataflow ${DEMO_DATAFLOW}, ` +
        'and show list, entities and history as the `dataflow` CLI does.',
    )
    .option('--exit', 'stop the stack this demo started when done, even on a terminal')
    .option('--stay', 'keep the stack this demo started up until Ctrl-C, even when the output is not a terminal')
    .option(
      '--profiles <n>',
      `profiles in the sandbox account ${onlyWhenStarting}`,
      nonNegativeInt,
      DEMO_SIZES.profiles,
    )
    .option('--events <n>', `events in the sandbox account ${onlyWhenStarting}`, nonNegativeInt, DEMO_SIZES.events)
    .option(
      '--rate-scale <factor>',
      `Klaviyo's rate limits times this, 1 = the real ones ${onlyWhenStarting}`,
      positiveNumber,
      DEMO_RATE_SCALE,
    )
    .showHelpAfterError();
  program.parse(argv, { from: 'node' });
  const opts = program.opts<{ exit?: boolean; stay?: boolean; profiles: number; events: number; rateScale: number }>();
  if (opts.exit && opts.stay)
    program.error('error: --exit and --stay contradict each other; give one.', { exitCode: 2 });
  const stackFlags = ['profiles', 'events', 'rateScale'].filter((key) => program.getOptionValueSource(key) === 'cli');
  return {
    exit: opts.exit ?? false,
    stay: opts.stay ?? false,
    profiles: opts.profiles,
    events: opts.events,
    rateScale: opts.rateScale,
    stackFlags,
  };
}

/** Where each service of the stack is, as `npm run stack` tells it. */
function isLoopback(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * The demo dataflow on this stack's sandbox: created on the first demo, reused afterwards. A stack started again may
 * have its sandbox on another port, so the saved base URL and key follow the sandbox; a dataflow of that name that
 * points anywhere else (a real account) is left alone.
 */
async function demoDataflow(api: DataflowApi, info: StackFile, log: (line: string) => void): Promise<Dataflow> {
  const { baseUrl, keys } = info.sandbox;
  let existing: Dataflow;
  try {
    existing = await api.get(DEMO_DATAFLOW);
  } catch (err) {
    if (!(err instanceof DataflowNotFoundError)) throw err;
    const created = await api.create({
      name: DEMO_DATAFLOW,
      displayName: 'Klaviyo demo',
      description: 'The Klaviyo sandbox account of the local stack, imported by `npm run demo`.',
      apiKey: keys.full,
      baseUrl,
    });
    log(
      `Created dataflow ${created.name} on the sandbox account (${created.tablesCount} tables selected, ` +
        `key ${maskApiKey({ hint: created.apiKeyHint })}).`,
    );
    return created;
  }
  if (existing.baseUrl === baseUrl && existing.apiKeyHint === apiKeyHint(keys.full)) {
    log(
      `Reusing dataflow ${existing.name} (${existing.tablesCount} tables selected, current version ${existing.currentVersion ?? 'none'}).`,
    );
    return existing;
  }
  if (!isLoopback(existing.baseUrl)) {
    throw new UserInputError(
      `A dataflow named ${existing.name} already exists and reads ${existing.baseUrl}, not the sandbox: ` +
        `the demo leaves it alone. Remove it (\`npm run dataflow -- remove ${existing.name}\`) to run the demo here.`,
    );
  }
  const updated = await api.edit(DEMO_DATAFLOW, { apiKey: keys.full, baseUrl });
  log(`Reusing dataflow ${updated.name}, now pointed at the sandbox on ${baseUrl}.`);
  return updated;
}

/**
 * An operation of the demo dataflow still in flight (a demo stopped mid-run leaves its run in Temporal, and the
 * worker resumes it when the stack is back) is waited for, so the new run is not refused as busy.
 */
async function waitForLeftover(api: DataflowApi, info: StackFile, log: (line: string) => void): Promise<void> {
  const handle = api.temporal.workflow.getHandle(operationWorkflowId(DEMO_DATAFLOW));
  const description = await handle.describe().catch(() => null);
  if (description?.status.name !== 'RUNNING') return;
  const { workflowId, runId } = description;
  const url = runUrl(info.temporal.uiUrl ?? '', info.temporal.namespace, workflowId, runId);
  const operation = description.type.replace('Dataflow', '');
  log(`An earlier ${operation} of ${DEMO_DATAFLOW} is still in progress (${url}); following it to its end first.`);
  try {
    if (operation === 'run') await api.waitForRun({ workflowId, runId, url }, progressPrinter(log));
    else await handle.result();
    log(`The earlier ${operation} completed.`);
  } catch (err) {
    log(`The earlier ${operation} did not complete: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Prints a run's progress as `dataflow run --wait` does: a line whenever it changed. */
function progressPrinter(log: (line: string) => void): (progress: LiveProgress) => void {
  let lastLine = '';
  return (progress) => {
    const line = progressLine(progress);
    if (line !== lastLine) log(line);
    lastLine = line;
  };
}

/** History right after a run may not show it closed yet: ask again for a few seconds. */
async function historyIncluding(api: DataflowApi, started: StartedOperation): Promise<RunRecord[]> {
  const deadline = Date.now() + HISTORY_LAG_MS;
  for (;;) {
    const runs = await api.history(DEMO_DATAFLOW);
    const run = runs.find((r) => r.runId === started.runId);
    if ((run && run.status !== 'RUNNING') || Date.now() > deadline) return runs;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function consoleLinks(info: StackFile): string[] {
  if (!info.console) return [];
  return [
    `In the Imports console (${info.console.url}):`,
    `  ${DEMO_DATAFLOW} in the Imports list, its entities and Run History; New Dataflow to connect another account`,
    '',
  ];
}

function webUiLinks(info: StackFile, started: StartedOperation): string[] {
  const { uiUrl, namespace } = info.temporal;
  if (!uiUrl) return ['This stack runs without the Web UI (headless); start it with `npm run stack` to have one.'];
  const base = `${uiUrl}/namespaces/${encodeURIComponent(namespace)}`;
  const query = encodeURIComponent(`DataflowName = '${DEMO_DATAFLOW.toLowerCase()}'`);
  return [
    `In the Temporal Web UI (${uiUrl}):`,
    `  this run                ${started.url}`,
    `                          (pending activities show each table's heartbeat: rows and pages so far)`,
    `  every ${DEMO_DATAFLOW} run   ${base}/workflows?query=${query}`,
    `  schedules               ${base}/schedules`,
  ];
}

function cliHints(config: Config, info: StackFile): string[] {
  // The CLI finds the stack through <data dir>/stack.json; a data directory other than ./.data has to be named.
  const defaultDataDir = path.resolve('.data');
  const prefix = info.dataDir === defaultDataDir ? '' : `DATAFLOW_DATA_DIR=${info.dataDir} `;
  const cli = `${prefix}npm run dataflow --`;
  const schema = DEMO_DATAFLOW.toLowerCase();
  return [
    'The CLI against this stack (while it runs):',
    `  ${cli} list`,
    `  ${cli} tables ${DEMO_DATAFLOW}`,
    `  ${cli} run ${DEMO_DATAFLOW} --wait`,
    `  ${cli} entities ${DEMO_DATAFLOW}`,
    `  ${cli} history ${DEMO_DATAFLOW}`,
    `  ${cli} rollback ${DEMO_DATAFLOW}`,
    `  ${cli} schedule ${DEMO_DATAFLOW} --every 1h`,
    `The data: query ${schema}.profiles, ${schema}.events, ... in Postgres ` +
      `(${config.databaseUrl ? 'DATABASE_URL' : `the URL is in ${stackFilePath(info.dataDir)}`}).`,
  ];
}

/** Creates or reuses the demo dataflow, runs it with live progress and prints what the CLI would. */
async function showDemo(
  config: Config,
  info: StackFile,
  log: (line: string) => void,
  interrupted: () => boolean,
): Promise<void> {
  const api = await DataflowApi.connect(
    // The stack is the authority on where things are; the master key follows its data directory.
    { ...config, dataDir: info.dataDir },
    {
      databaseUrl: info.postgres.url,
      temporalAddress: info.temporal.address,
      namespace: info.temporal.namespace,
      uiUrl: info.temporal.uiUrl ?? config.temporalUiUrl,
    },
  );
  try {
    await demoDataflow(api, info, log);
    await waitForLeftover(api, info, log);

    const started = await api.run(DEMO_DATAFLOW);
    log(`Run started: ${started.url}`);
    const result = await api.waitForRun(started, progressPrinter(log));
    log(renderRunResult(result));

    log(`\n$ dataflow list\n${renderDataflowList(await api.list())}`);
    log(`\n$ dataflow entities ${DEMO_DATAFLOW}\n${renderEntities(DEMO_DATAFLOW, await api.entities(DEMO_DATAFLOW))}`);
    log(`\n$ dataflow history ${DEMO_DATAFLOW}\n${renderHistory(DEMO_DATAFLOW, await historyIncluding(api, started))}`);
    log(['', ...consoleLinks(info), ...webUiLinks(info, started), '', ...cliHints(config, info)].join('\n'));
  } finally {
    // After Ctrl-C the process exits instead: closing a Temporal connection under calls that are still retrying
    // makes their retry timers throw ("Channel has been shut down").
    if (!interrupted()) await api.close();
  }
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const options = parseDemoArgs(argv);
  const log = (line: string) => console.log(line);
  const signals = new StopSignals(log);
  const config = readConfig();
  let stack: Stack | undefined;
  try {
    let info = await findRunningStack(config.dataDir);
    if (info) {
      log(`Using the local stack already running (pid ${info.pid}, since ${info.startedAt}):\n${describeStack(info)}`);
      if (options.stackFlags.length > 0) {
        log(
          'note: --profiles, --events and --rate-scale apply only to a stack the demo starts; this one keeps its own.',
        );
      }
    } else {
      log('Starting the local stack: Temporal dev server with its Web UI, Postgres, the Klaviyo sandbox, a worker...');
      const startedAt = Date.now();
      try {
        // The worker the stack spawns inherits this environment: its own rate budget matches the sandbox's limits.
        process.env.KLAVIYO_RATE_LIMITS = String(options.rateScale);
        stack = await startStack({
          dataDir: config.dataDir,
          sandboxSeed: DEMO_SANDBOX_SEED,
          sandboxSizes: { profiles: options.profiles, events: options.events },
          log,
        });
        stack.sandbox.setRateLimits({ enabled: true, scale: options.rateScale });
        info = stack.info;
        log(`Local stack up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s:\n${describeStack(info)}`);
        log(
          `  (sandbox: ${options.profiles} profiles, ${options.events} events, Klaviyo's rate limits ×${options.rateScale};` +
            ' see --help to change them)',
        );
      } catch (err) {
        // Another process brought a stack up on this data directory in the meantime: use it.
        if (!(err instanceof StackAlreadyRunningError)) throw err;
        info = err.running;
        log(`Using the local stack that just started (pid ${info.pid}):\n${describeStack(info)}`);
      }
    }
    if (signals.received) return;
    const current = info;
    await signals.race(showDemo(config, current, log, () => signals.received !== undefined));

    if (!stack) return;
    if ((process.stdout.isTTY && !options.exit) || options.stay) {
      log('\nThe stack stays up so you can look around. Press Ctrl-C to stop it.');
      await signals.wait();
    } else {
      log('\nStopping the stack this demo started (`npm run stack` brings it back, data included).');
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    // The run goes on in Temporal: the worker resumes it the next time the stack is up, and the demo waits for it.
    process.exitCode = 130;
  } finally {
    signals.dispose();
    if (stack) {
      await stack.stop();
      log('Stopped.');
    }
  }
}

if (require.main === module) {
  main().then(
    // After Ctrl-C, calls to a Temporal that has just stopped may still be retrying: do not wait for them.
    () => process.exitCode === 130 && process.exit(130),
    // The CLI's error printing: the message alone, never request options (which carry the key).
    (err: unknown) => process.exit(reportError(err, false)),
  );
}
