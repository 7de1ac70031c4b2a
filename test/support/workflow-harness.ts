import crypto from 'node:crypto';
import fs from 'node:fs';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { DataflowActivities } from '../../activities/dataflow-activities';
import type { RunInput } from '../../shared/operations';
import type { runDataflow } from '../../workflows/run-dataflow';
import { testBuild } from './built';
import { startTestTemporal, type TestTemporal } from './temporal';

/**
 * The workflows of workflows/ alone: the real workflow bundle on a real Temporal dev server (the same CLI the other
 * tests start; the SDK's time-skipping test server cannot be downloaded here), with every activity replaced by a mock
 * that records its calls. The retry policies stay the workflows' own: a mock that should not be retried fails
 * non-retryably (`nonRetryable`), one that should be fails once and costs its real first backoff.
 */
export type ActivityName = keyof DataflowActivities;
type Input<K extends ActivityName> = Parameters<DataflowActivities[K]>[0];
type Output<K extends ActivityName> = Awaited<ReturnType<DataflowActivities[K]>>;
export type MockActivities = { [K in ActivityName]: (input: Input<K>) => Promise<Output<K>> };

export interface ActivityCall {
  name: ActivityName;
  /** The activity's input as the workflow sent it. */
  input: Record<string, unknown>;
  /** 1 for the first attempt, 2 for its first retry… */
  attempt: number;
}

export const DATAFLOW_ID = 'df-0001';
export const STAGED_VERSION = 7;

/** What each activity answers unless a test says otherwise: a dataflow of two tables whose run goes well. */
export function defaultActivities(): MockActivities {
  return {
    acquireLock: async () => ({ dataflowId: DATAFLOW_ID }),
    releaseLock: async () => undefined,
    validateApiKey: async () => ({ accountId: 'acct-1', notices: [] }),
    discoverTables: async () => ({ tables: ['profiles', 'events'], notices: [] }),
    beginVersion: async () => ({ version: STAGED_VERSION, incremental: {}, notices: [] }),
    extractTable: async ({ table }) => ({ table, rows: 10, pages: 1, bytes: 100 }),
    commitVersion: async () => undefined,
    discardVersion: async () => undefined,
    markEnded: async () => undefined,
    markNeedsAttention: async () => ({ waitMs: 60_000 }),
    markWaitingForQuota: async () => undefined,
    markRunning: async () => undefined,
    rollbackVersion: async () => ({ fromVersion: 3, toVersion: 2 }),
    removeDataflow: async () => ({ droppedTables: 4, droppedDependents: [] }),
  };
}

/** Mocked activities and what the workflow asked of them, in the order it asked. */
export class ActivityMocks {
  readonly calls: ActivityCall[] = [];
  readonly implementations: MockActivities;
  private readonly listeners = new Set<() => void>();

  constructor(overrides: Partial<MockActivities> = {}) {
    this.implementations = { ...defaultActivities(), ...overrides };
  }

  /** Records the call, then runs the mock. */
  async call(name: ActivityName, input: Record<string, unknown>): Promise<unknown> {
    this.calls.push({ name, input, attempt: Context.current().info.attempt });
    for (const listener of this.listeners) listener();
    const implementation = this.implementations[name] as (input: unknown) => Promise<unknown>;
    return implementation(input);
  }

  /** The names of the activities called, in order (retries included). */
  names(): ActivityName[] {
    return this.calls.map((c) => c.name);
  }

  /** The inputs of one activity's calls, in order. */
  inputs(name: ActivityName): Record<string, unknown>[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input);
  }

  /** Resolves once `name` has been called `times` times in all. */
  called(name: ActivityName, times = 1): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.inputs(name).length < times) return;
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
      check();
    });
  }
}

/** An activity that runs until it is cancelled, heartbeating so the cancellation reaches it at once. */
export async function untilCancelled(): Promise<never> {
  const context = Context.current();
  const beat = setInterval(() => context.heartbeat(), 100);
  try {
    return await context.cancelled;
  } finally {
    clearInterval(beat);
  }
}

/** A promise a test resolves by hand, to hold a mocked activity until it chooses. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

export interface WorkflowHarness {
  temporal: TestTemporal;
  client: Client;
  /**
   * Runs `body` with `mocks` as the activities of the file's worker (the real workflow bundle on a task queue of its
   * own, started on first use); `body` gets that queue and a fresh workflow id. One worker serves every test of a file,
   * so a test costs no worker start; the activity calls go to the mocks of the test that is running.
   */
  withWorker<T>(mocks: ActivityMocks, body: (taskQueue: string, workflowId: string) => Promise<T>): Promise<T>;
  /** Starts runDataflow on `taskQueue` (of `withWorker`); by default a manual run of the dataflow "Shop". */
  startRun(
    taskQueue: string,
    workflowId: string,
    input?: RunInput,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof runDataflow>>;
  /** Stops the worker (cancelling what its activities still do), the connection and the server. */
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/** Worker and Temporal core logs at errors only: the mocks' expected failures would bury the test report. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // Installed already by an earlier harness of this process.
  }
}

export async function startWorkflowHarness(): Promise<WorkflowHarness> {
  quietRuntime();
  // The bundle this jest run built (global-setup.ts), read here rather than through engine.ts, whose imports (the API,
  // the sandbox, the worker) cost seconds to load and serve nothing of this.
  const bundle = { code: fs.readFileSync(testBuild().workflowBundle, 'utf8') };
  const temporal = await startTestTemporal();
  const client = await temporal.client();
  const connection = await NativeConnection.connect({ address: temporal.address });
  const taskQueue = `workflow-test-${crypto.randomUUID().slice(0, 8)}`;
  let current: ActivityMocks | undefined;
  const activities = Object.fromEntries(
    (Object.keys(defaultActivities()) as ActivityName[]).map((name) => [
      name,
      (input: Record<string, unknown>) => {
        if (!current) throw new Error(`${name} called outside a test's withWorker`);
        return current.call(name, input);
      },
    ]),
  );
  let running: { worker: Worker; done: Promise<void> } | undefined;
  const start = async () => {
    const worker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: bundle,
      activities,
      // A cancellation reaches a heartbeating activity on its next beat: send beats at once, not every 4 s.
      maxHeartbeatThrottleInterval: '50ms',
    });
    const done = worker.run();
    done.catch(() => undefined); // Read by withWorker and stop(); not an unhandled rejection between tests.
    return { worker, done };
  };
  return {
    temporal,
    client,
    async withWorker(mocks, body) {
      running ??= await start();
      current = mocks;
      const workflowId = `workflow-test-run-${crypto.randomUUID().slice(0, 8)}`;
      // A worker that fails ends the test with its error instead of leaving the workflow waiting.
      return Promise.race([
        body(taskQueue, workflowId),
        running.done.then(() => Promise.reject(new Error('worker stopped'))),
      ]);
    },
    startRun(taskQueue, workflowId, input = { dataflow: 'Shop', trigger: 'manual' }) {
      return client.workflow.start<typeof runDataflow>('runDataflow', { taskQueue, workflowId, args: [input] });
    },
    async stop() {
      if (running) {
        running.worker.shutdown();
        await running.done;
      }
      await connection.close();
      await temporal.stop();
    },
  };
}

/**
 * The harness of one test file: started before its tests (in `beforeAll`) and stopped after them. What it returns
 * reaches the started harness, so a file keeps it in a constant.
 */
export function useWorkflowHarness(): WorkflowHarness {
  let started: WorkflowHarness | undefined;
  beforeAll(async () => {
    started = await startWorkflowHarness();
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
  const get = (): WorkflowHarness => {
    if (!started) throw new Error('The workflow harness starts in beforeAll: use it inside a test');
    return started;
  };
  return {
    get temporal() {
      return get().temporal;
    },
    get client() {
      return get().client;
    },
    withWorker: (mocks, body) => get().withWorker(mocks, body),
    startRun: (taskQueue, workflowId, input) => get().startRun(taskQueue, workflowId, input),
    stop: () => get().stop(),
  };
}

/** Polls `read` until `accept` takes what it returns (Temporal queries, progress): at most `timeoutMs`. */
export async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`Not reached within ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
