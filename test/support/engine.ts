import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime, type WorkflowBundle } from '@temporalio/worker';
import { DataflowApi } from '../../client/dataflow-api';
import { readConfig } from '../../shared/config';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/server';
import { startWorker, type RunningWorker } from '../../worker/create-worker';
import { testBuild } from './built';
import { createTestDatabase, type TestDatabase } from './database';
import { startTestTemporal, type TestTemporal } from './temporal';

/**
 * The whole product, really started, for one test file: a Temporal dev server, a database of its
 * own, the Klaviyo sandbox over HTTP, an in-process worker and the API the CLI is built on.
 */
export interface TestEngine {
  temporal: TestTemporal;
  database: TestDatabase;
  sandbox: Sandbox;
  api: DataflowApi;
  /** The environment a worker or CLI process of this engine needs (spawned ones included). */
  env: NodeJS.ProcessEnv;
  /** Starts an in-process worker; stop it with `worker.shutdown()`. */
  startWorker(): Promise<RunningWorker>;
  worker: RunningWorker | null;
  stop(): Promise<void>;
}

let bundle: Promise<WorkflowBundle> | undefined;
let runtimeInstalled = false;

/**
 * What the in-process workers logged, at info level and above, one line per entry with its metadata: the key scan
 * reads it (test/support/key-scan.ts). Only errors are printed: expected activity failures would bury the report.
 */
export const workerLogLines: string[] = [];

function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    const logger = new DefaultLogger('INFO', (entry) => {
      const line = `${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {}, (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : v,
      )}`;
      workerLogLines.push(line);
      if (entry.level === 'ERROR') console.error(line);
    });
    Runtime.install({ logger });
  } catch {
    // Already installed by an earlier worker of this process: keep it (the key scan's canary then finds no log).
  }
}

/**
 * The workflow bundle every in-process worker of the test process runs: dist/workflow-bundle.js, which jest's global
 * setup (test/support/global-setup.ts) builds once per run, as it does dist/worker.js for spawned worker processes.
 */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= Promise.resolve().then(() => ({ code: fs.readFileSync(testBuild().workflowBundle, 'utf8') }));
  return bundle;
}

export interface TestEngineOptions {
  sandbox?: SandboxOptions;
  /** Keep Temporal's state in SQLite so it survives a restart. @default false */
  persistTemporal?: boolean;
  /** Start an in-process worker. @default true */
  worker?: boolean;
}

export async function startTestEngine(options: TestEngineOptions = {}): Promise<TestEngine> {
  quietRuntime();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-engine-'));
  const rateLimitsOn = options.sandbox?.rateLimits?.enabled ?? false;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATAFLOW_DATA_DIR: dataDir,
    DATAFLOW_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    KLAVIYO_RATE_LIMITS: rateLimitsOn ? String(options.sandbox?.rateLimits?.scale ?? 1) : 'off',
  };
  const [temporal, database, sandbox] = await Promise.all([
    startTestTemporal({ persist: options.persistTemporal }),
    createTestDatabase({ prefix: 'engine' }),
    startSandbox({ seed: 7, rateLimits: { enabled: false }, ...options.sandbox }),
  ]);
  env.DATABASE_URL = database.url;
  env.TEMPORAL_ADDRESS = temporal.address;
  env.TEMPORAL_NAMESPACE = temporal.namespace;
  // The activities and the API read these through readConfig(); a test process hosts both.
  Object.assign(process.env, {
    DATAFLOW_DATA_DIR: env.DATAFLOW_DATA_DIR,
    DATAFLOW_MASTER_KEY: env.DATAFLOW_MASTER_KEY,
    KLAVIYO_RATE_LIMITS: env.KLAVIYO_RATE_LIMITS,
  });
  const config = readConfig(env);
  const settings = {
    databaseUrl: database.url,
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    uiUrl: 'http://127.0.0.1:8233',
  };
  const api = await DataflowApi.connect(config, settings);
  const engine: TestEngine = {
    temporal,
    database,
    sandbox,
    api,
    env,
    worker: null,
    async startWorker() {
      const worker = await startWorker({
        temporalAddress: temporal.address,
        namespace: temporal.namespace,
        databaseUrl: database.url,
        workflowBundle: await workflowBundle(),
      });
      engine.worker = worker;
      return worker;
    },
    async stop() {
      await engine.worker?.shutdown().catch(() => undefined);
      await api.close();
      await sandbox.close();
      await temporal.stop();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (options.worker ?? true) await engine.startWorker();
  return engine;
}
