import { spawn } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { rootCauseMessage } from '../../shared/operations';
import { TASK_QUEUE } from '../../shared/config';
import { scheduleId } from '../../shared/operations';
import type { RunRecord } from '../../client/run-history';
import { createDataflows, engineQuery } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';

/**
 * Bad input gets an error in words a user can act on, and changes nothing: no dataflow, schema,
 * version, schedule or workflow appears, and the existing dataflow stays as it was.
 */
let engine: TestEngine;
const EXISTING = 'ExistingFlow';
const TABLES = ['accounts', 'profiles', 'metrics', 'lists'];
const BIN = path.resolve(__dirname, '../../bin/dataflow.js');
/**
 * Every profiles request answered 3 s late: the scope check and both pages of profiles keep a run busy
 * for 9 s or more. Short delays on purpose: the sandbox's delay timer outlives an aborted request.
 */
const SLOW_RUN = { rules: [{ table: 'profiles', kind: 'slow' as const, delayMs: 3_000 }] };

let baseline: Snapshot;

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 150, metrics: 4, lists: 3 } } });
  await createDataflows(engine, [EXISTING], TABLES);
  await engine.api.waitForRun(await engine.api.run(EXISTING));
  baseline = await snapshot();
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

const query = engineQuery(() => engine);

/** Everything a request could change: the control plane, the warehouse, Temporal's schedules and executions. */
async function snapshot() {
  const temporal = await engine.temporal.client();
  const schedules: string[] = [];
  for await (const s of temporal.schedule.list()) schedules.push(s.scheduleId);
  const executions: string[] = [];
  for await (const e of temporal.workflow.list()) executions.push(`${e.workflowId}/${e.runId}`);
  return {
    dataflows: (await engine.api.list()).map((d) => ({
      name: d.name,
      status: d.status,
      baseUrl: d.baseUrl,
      tablesCount: d.tablesCount,
      currentVersion: d.currentVersion,
      schedule: d.schedule,
      scheduleSpec: d.scheduleSpec,
      updatedAt: d.updatedAt.toISOString(),
    })),
    tables: await engine.api.tables(EXISTING),
    entities: await engine.api.entities(EXISTING),
    versions: await query('SELECT version, state FROM dataflow_control.dataflow_versions ORDER BY version'),
    schemas: await query(
      "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
    ),
    schedules: schedules.sort(),
    executions: executions.sort(),
  };
}
type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** The message a rejected promise carries. */
async function rejection(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => {
      throw new Error('The request succeeded; it was expected to be refused.');
    },
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

interface CliOutcome {
  code: number | null;
  stdout: string;
  /** The `{ "error": … }` object the CLI prints on stderr with --json. */
  error: { error?: string } | null;
}

/** Runs the real `dataflow` CLI as a user would, against this file's engine. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json'], {
      env: { ...engine.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      let error: CliOutcome['error'] = null;
      try {
        error = JSON.parse(last) as { error?: string };
      } catch {
        error = { error: `(not JSON) ${stderr}` };
      }
      resolve({ code, stdout, error });
    });
  });
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(200);
  }
}

describe('names', () => {
  beforeEach(() => engine.sandbox.resetRequestLog());

  test.each([
    ['empty', '', /^The dataflow name is empty\.$/],
    [
      'starting with a digit',
      '1Flow',
      /^The dataflow name "1Flow" starts with a digit; it must start with a letter \(a-z, A-Z\)\.$/,
    ],
    [
      'with a space',
      'My Flow',
      /^The dataflow name "My Flow" contains a space; use letters and digits only, e.g\. "MyFlow"\.$/,
    ],
    [
      'with punctuation',
      'a;drop',
      /^The dataflow name "a;drop" contains ";"; only the letters a-z and A-Z and the digits 0-9 are allowed\.$/,
    ],
    [
      'with a non-ASCII letter',
      'Café',
      /^The dataflow name "Café" contains the non-ASCII letter "é"; only the letters a-z and A-Z/,
    ],
    [
      'taken in another case',
      'EXISTINGFLOW',
      /^A dataflow with this name already exists \(as "ExistingFlow"\); names are unique regardless of case\.$/,
    ],
  ])('a name %s is refused before the key is sent anywhere, and nothing changes', async (_case, name, message) => {
    const refused = await rejection(
      engine.api.create({ name, apiKey: engine.sandbox.keys.full, baseUrl: engine.sandbox.baseUrl }),
    );
    expect(refused).toMatch(message);
    expect(engine.sandbox.requestLog()).toEqual([]);
    expect(await snapshot()).toEqual(baseline);
  });

  test('the CLI refuses a name with punctuation with exit code 2 and the reason on stderr', async () => {
    const outcome = await cli(['create', 'a;drop', '--base-url', engine.sandbox.baseUrl], {
      KLAVIYO_API_KEY: engine.sandbox.keys.full,
    });
    expect(outcome.code).toBe(2);
    expect(outcome.error?.error).toMatch(/^The dataflow name "a;drop" contains ";"; only the letters a-z and A-Z/);
    expect(outcome.stdout).toBe('');
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);

  test('the CLI refuses a name taken in another case with exit code 2', async () => {
    const outcome = await cli(['create', 'existingflow', '--base-url', engine.sandbox.baseUrl], {
      KLAVIYO_API_KEY: engine.sandbox.keys.full,
    });
    expect(outcome.code).toBe(2);
    expect(outcome.error?.error).toMatch(/already exists \(as "ExistingFlow"\); names are unique regardless of case/);
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);
});

describe('tables and fields', () => {
  test('creating with an unknown table is refused, listing the known tables, and nothing changes', async () => {
    const refused = await rejection(
      engine.api.create({
        name: 'Orders',
        apiKey: engine.sandbox.keys.full,
        baseUrl: engine.sandbox.baseUrl,
        tables: ['profiles', 'orders'],
      }),
    );
    expect(refused).toMatch(/^Unknown table "orders"\. Known tables: accounts, profiles, events, /);
    expect(await snapshot()).toEqual(baseline);
  });

  test("creating without an unknown field is refused, listing the table's fields, and nothing changes", async () => {
    const refused = await rejection(
      engine.api.create({
        name: 'ShoeSizes',
        apiKey: engine.sandbox.keys.full,
        baseUrl: engine.sandbox.baseUrl,
        excludeFields: ['profiles.shoe_size'],
      }),
    );
    expect(refused).toMatch(/^The table "profiles" has no field "shoe_size"; its fields are: .*\bemail\b/);
    expect(await snapshot()).toEqual(baseline);
  });

  test('editing the selection with an unknown table is refused and keeps the saved selection', async () => {
    const refused = await rejection(engine.api.edit(EXISTING, { tables: ['metrics', 'orders'] }));
    expect(refused).toMatch(/^Unknown table "orders"\. Known tables: /);
    expect(await snapshot()).toEqual(baseline);
  });

  test('editing with an unknown field is refused and keeps the saved selection', async () => {
    const refused = await rejection(engine.api.edit(EXISTING, { excludeFields: ['metrics.colour'] }));
    expect(refused).toMatch(/^The table "metrics" has no field "colour"; its fields are: /);
    expect(await snapshot()).toEqual(baseline);
  });

  test('the CLI refuses an unknown table with exit code 2', async () => {
    const outcome = await cli(['edit', EXISTING, '--tables', 'metrics,orders']);
    expect(outcome.code).toBe(2);
    expect(outcome.error?.error).toMatch(/^Unknown table "orders"\. Known tables: /);
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);
});

describe('schedules', () => {
  test('a cron expression with the wrong number of fields is refused, saying how many are expected', async () => {
    const refused = await rejection(engine.api.schedule(EXISTING, { cron: 'every day at noon' }));
    expect(refused).toBe(
      'Invalid cron expression "every day at noon": expected 5 fields (minute hour day-of-month month day-of-week), got 4.',
    );
    expect(await snapshot()).toEqual(baseline);
  });

  test('a cron expression with a value out of range is refused, naming the field and its range', async () => {
    const refused = await rejection(engine.api.schedule(EXISTING, { cron: '61 * * * *' }));
    expect(refused).toMatch(/^Invalid schedule "cron 61 \* \* \* \*": .*Minute is not in range \[0-59\]/);
    expect(await snapshot()).toEqual(baseline);
  });

  test('an interval without a unit is refused with an example of one', async () => {
    const refused = await rejection(engine.api.schedule(EXISTING, { every: '5 minutes' }));
    expect(refused).toMatch(/^Invalid interval "5 minutes": use a number with a unit, e\.g\. 30m, 6h, 1d or 1h30m\.$/);
    expect(await snapshot()).toEqual(baseline);
  });

  test('the CLI refuses an out-of-range cron expression with exit code 2', async () => {
    const outcome = await cli(['schedule', EXISTING, '--cron', '61 * * * *']);
    expect(outcome.code).toBe(2);
    expect(outcome.error?.error).toMatch(/Minute is not in range \[0-59\]/);
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);
});

describe('an unreachable base URL', () => {
  test('creating against it fails saying the host cannot be reached and to check the base URL, and nothing changes', async () => {
    const baseUrl = `http://127.0.0.1:${await closedPort()}`;
    const refused = await rejection(
      engine.api.create({ name: 'Unreachable', apiKey: engine.sandbox.keys.full, baseUrl }),
    );
    expect(refused).toContain(`Could not reach Klaviyo at ${baseUrl} (`);
    expect(refused).toContain('Check the base URL');
    expect(refused).not.toContain(engine.sandbox.keys.full);
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);
});

describe('a dataflow that does not exist', () => {
  test.each([
    ['run', () => engine.api.run('Ghost')],
    ['rollback', () => engine.api.rollback('Ghost')],
    ['remove', () => engine.api.remove('Ghost')],
  ])('%s is refused with its name, and no workflow starts', async (_operation, request) => {
    expect(await rejection(request())).toBe('No dataflow named "Ghost".');
    expect(await snapshot()).toEqual(baseline);
  });

  test('the CLI refuses to run it with exit code 2', async () => {
    const outcome = await cli(['run', 'Ghost']);
    expect(outcome.code).toBe(2);
    expect(outcome.error?.error).toBe('No dataflow named "Ghost".');
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);
});

describe('a busy dataflow', () => {
  const busy =
    /^Dataflow "ExistingFlow" is busy: a run is in progress \(.+\)\. Wait for it to finish, or cancel it with `dataflow cancel ExistingFlow`, then try again\.$/;

  afterEach(() => engine.sandbox.setFaults({}));

  /** Cancels what runs and waits for it to end, so the next test starts from a quiet dataflow. */
  async function cancelAndSettle(): Promise<void> {
    const cancelled = await engine.api.cancel(EXISTING);
    const temporal = await engine.temporal.client();
    await temporal.workflow
      .getHandle(cancelled.workflowId, cancelled.runId, { followRuns: false })
      .result()
      .catch(() => undefined);
  }

  test('a run, a rollback and a remove are refused while a run is in progress, and none of them starts', async () => {
    engine.sandbox.setFaults(SLOW_RUN);
    const running = await engine.api.run(EXISTING);
    try {
      expect(await rejection(engine.api.run(EXISTING))).toMatch(busy);
      expect(await rejection(engine.api.rollback(EXISTING))).toMatch(busy);
      expect(await rejection(engine.api.remove(EXISTING))).toMatch(busy);
    } finally {
      await cancelAndSettle();
    }
    const history = await engine.api.history(EXISTING);
    expect(history.map((r) => `${r.operation}:${r.status}`)).toEqual(['run:CANCELLED', 'run:COMPLETED']);
    expect(history[0].runId).toBe(running.runId);
  }, 60_000);

  test('the refused requests and the cancelled run leave the committed version live', async () => {
    expect(await engine.api.entities(EXISTING)).toEqual(baseline.entities);
    expect((await engine.api.get(EXISTING)).currentVersion).toBe(1);
  });

  test('the CLI refuses to run a dataflow whose scheduled run is in progress, with exit code 2', async () => {
    engine.sandbox.setFaults(SLOW_RUN);
    await engine.api.schedule(EXISTING, { every: '1d' });
    const temporal = await engine.temporal.client();
    await temporal.schedule.getHandle(scheduleId(EXISTING)).trigger();
    try {
      await waitFor('the scheduled run to show in the history', async () =>
        (await engine.api.history(EXISTING)).some((r) => r.status === 'RUNNING' && r.trigger === 'schedule')
          ? true
          : undefined,
      );
      const outcome = await cli(['run', EXISTING]);
      expect(outcome.code).toBe(2);
      expect(outcome.error?.error).toMatch(busy);
      expect(outcome.stdout).toBe('');
    } finally {
      await cancelAndSettle();
      await engine.api.deleteSchedule(EXISTING);
    }
    const runs = (await engine.api.history(EXISTING)).map((r) => `${r.operation}:${r.trigger}:${r.status}`);
    expect(runs).toEqual(['run:schedule:CANCELLED', 'run:manual:CANCELLED', 'run:manual:COMPLETED']);
  }, 60_000);

  test('a scheduled run that finds a manual run holding the dataflow is skipped, not failed, and says so', async () => {
    engine.sandbox.setFaults(SLOW_RUN);
    const manual = await engine.api.run(EXISTING);
    const temporal = await engine.temporal.client();
    let skipped: RunRecord | undefined;
    try {
      await waitFor('the manual run to take the lock', async () =>
        (await query('SELECT 1 FROM dataflow_control.operation_locks')).length > 0 ? true : undefined,
      );
      const earlier = new Set((await engine.api.history(EXISTING)).map((r) => r.runId));
      await engine.api.schedule(EXISTING, { every: '1d' });
      await temporal.schedule.getHandle(scheduleId(EXISTING)).trigger();
      skipped = await waitFor('the scheduled run to end', async () =>
        (await engine.api.history(EXISTING)).find(
          (r) => r.trigger === 'schedule' && r.status !== 'RUNNING' && !earlier.has(r.runId),
        ),
      );
      // It ended while the manual run went on, without touching the dataflow's status.
      expect((await engine.api.get(EXISTING)).status).not.toBe('Failed');
    } finally {
      await cancelAndSettle();
      await engine.api.deleteSchedule(EXISTING);
    }
    expect(skipped).toMatchObject({
      operation: 'run',
      trigger: 'schedule',
      status: 'SKIPPED',
      error: null,
      description: 'Skipped: a run was in progress.',
    });
    const raw = await temporal.workflow.getHandle(skipped!.workflowId, skipped!.runId).describe();
    expect(raw.status.name).toBe('COMPLETED');
    expect((await engine.api.history(EXISTING)).find((r) => r.runId === manual.runId)?.status).toBe('CANCELLED');
  }, 60_000);

  test("an operation started behind the API's back is refused by the workflow itself while a run holds the lock", async () => {
    engine.sandbox.setFaults(SLOW_RUN);
    await engine.api.run(EXISTING);
    const temporal = await engine.temporal.client();
    try {
      await waitFor('the run to take the lock', async () =>
        (await query('SELECT 1 FROM dataflow_control.operation_locks')).length > 0 ? true : undefined,
      );
      const sneaked = await temporal.workflow.start('rollbackDataflow', {
        taskQueue: TASK_QUEUE,
        workflowId: 'sneaked-rollback',
        args: [{ dataflow: EXISTING, trigger: 'manual' }],
      });
      const failure = await sneaked.result().then(
        () => null,
        (err: unknown) => (err instanceof WorkflowFailedError ? rootCauseMessage(err.cause) : String(err)),
      );
      expect(failure).toMatch(
        /^Dataflow "ExistingFlow" is busy: a run \(workflow dataflow-existingflow\) has been in progress since .+\. Wait for it to finish or cancel it, then try again\.$/,
      );
    } finally {
      await cancelAndSettle();
    }
    expect(await engine.api.entities(EXISTING)).toEqual(baseline.entities);
    expect((await engine.api.get(EXISTING)).currentVersion).toBe(1);
  }, 60_000);
});
