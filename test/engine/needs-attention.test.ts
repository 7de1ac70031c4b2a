import type { Entity } from '../../warehouse/entities';
import { RunNeedsAttentionError, type StartedOperation } from '../../client/dataflow-api';
import type { RunRecord } from '../../client/run-history';
import type { RunResult } from '../../shared/operations';
import { startWorker, type RunningWorker } from '../../worker/create-worker';
import { startTestEngine, workflowBundle, type TestEngine } from '../support/engine';
import { runCli } from './cli-process';
import { activityRecords } from './workflow-events';

/**
 * A table that fails for good no longer throws the run's version away: the other tables finish, the run keeps
 * its staged version and waits (needs attention) with the table's error, visible in list, history and Temporal's
 * visibility. `retry` re-reads only the failed table into the same version and commits; `discard` and the timeout
 * end the run as a failed run ends. Rollback still sees the older versions.
 */
let engine: TestEngine;
const NAME = 'Attention';
const OTHER = 'Quiet';
const TABLES = ['accounts', 'profiles', 'events', 'metrics', 'lists'];
/**
 * profiles has 150 rows read 100 a page: page 2 is read only by an extraction, never by the scope check. A 400 is
 * final (not retried), so the table fails for good at once.
 */
const PROFILES_PAGE_2_REFUSED = { rules: [{ table: 'profiles', page: 2, kind: 'status' as const, status: 400 }] };

async function startAttentionWorker(needsAttentionHours: number): Promise<RunningWorker> {
  return startWorker({
    temporalAddress: engine.temporal.address,
    namespace: engine.temporal.namespace,
    databaseUrl: engine.database.url,
    workflowBundle: await workflowBundle(),
    activities: { klaviyoRetry: { baseDelayMs: 10, maxDelayMs: 50 }, needsAttentionHours },
  });
}

/** Starts a full run against the refusing sandbox and returns once it needs attention. */
async function runUntilNeedsAttention(): Promise<{ started: StartedOperation; error: RunNeedsAttentionError }> {
  engine.sandbox.setFaults(PROFILES_PAGE_2_REFUSED);
  // Full: an incremental refresh of unchanged profiles would read one page and never meet the fault.
  const started = await engine.api.run(NAME, { full: true });
  const error = await engine.api.waitForRun(started).then(
    () => {
      throw new Error('The run committed although profiles was refused.');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof RunNeedsAttentionError)) throw error;
  return { started, error };
}

async function historyRow(runId: string): Promise<RunRecord> {
  const row = (await engine.api.history(NAME)).find((r) => r.runId === runId);
  if (!row) throw new Error(`The run ${runId} is missing from the history of ${NAME}.`);
  return row;
}

async function versionStates(): Promise<Record<number, string>> {
  const { rows } = await engine.api.pool.query<{ version: number; state: string }>(
    `SELECT v.version, v.state FROM dataflow_control.dataflow_versions v
     JOIN dataflow_control.dataflows d ON d.id = v.dataflow_id WHERE d.name = $1 ORDER BY v.version`,
    [NAME],
  );
  return Object.fromEntries(rows.map((r) => [r.version, r.state]));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 150, events: 600, metrics: 4, lists: 3 } },
  });
  engine.worker = await startAttentionWorker(24);
  const base = { apiKey: engine.sandbox.keys.full, baseUrl: engine.sandbox.baseUrl };
  await engine.api.create({ name: NAME, tables: TABLES, ...base });
  await engine.api.create({ name: OTHER, tables: ['lists'], ...base });
  await engine.api.waitForRun(await engine.api.run(NAME));
}, 150_000);

afterAll(async () => {
  await engine?.stop();
});

describe('a table that fails for good', () => {
  let before: Entity[];
  let started: StartedOperation;
  let error: RunNeedsAttentionError;

  beforeAll(async () => {
    before = await engine.api.entities(NAME);
    ({ started, error } = await runUntilNeedsAttention());
  }, 60_000);

  afterAll(() => engine.sandbox.setFaults({}));

  test('leaves the run waiting, in needs attention, with the table’s error and what to do', () => {
    expect(error.progress.phase).toBe('needs-attention');
    expect(error.message).toMatch(
      /^The run of Attention needs attention: "profiles": Klaviyo refused the request .* as invalid.*Version 2 is kept: re-read the failed tables with `dataflow retry Attention`, or end the run with `dataflow discard Attention`; it is discarded by itself at \d{4}-\d\d-\d\dT/,
    );
    expect(Date.parse(error.progress.attention?.discardAt ?? '') - Date.now()).toBeGreaterThan(23 * 3_600_000);
  });

  test('lets the other tables finish instead of cancelling them', () => {
    expect(error.progress.tables.map((t) => [t.table, t.state])).toEqual(
      TABLES.map((t) => [t, t === 'profiles' ? 'failed' : 'done']),
    );
  });

  test('keeps the staged version while the previous one stays live', async () => {
    expect(await versionStates()).toEqual({ 1: 'committed', 2: 'staging' });
    expect(await engine.api.entities(NAME)).toEqual(before);
  });

  test('shows NeedsAttention with the error in the list and in the history', async () => {
    const row = (await engine.api.list()).find((d) => d.name === NAME);
    expect(row?.status).toBe('NeedsAttention');
    expect(row?.lastError).toMatch(
      /^Needs attention: "profiles": Klaviyo refused the request for the table "profiles" as invalid/,
    );
    const history = await historyRow(started.runId);
    expect(history).toMatchObject({ status: 'NEEDS_ATTENTION', version: 2 });
    expect(history.error).toMatch(
      /^Needs attention: "profiles": Klaviyo refused the request for the table "profiles" as invalid/,
    );
  });

  test('is found in Temporal’s visibility (the Web UI’s list) as DataflowState = NeedsAttention', async () => {
    const temporal = await engine.temporal.client();
    const found = await waitFor('the search attribute', async () => {
      for await (const info of temporal.workflow.list({ query: `DataflowState = 'NeedsAttention'` })) {
        if (info.runId === started.runId) return info;
      }
      return undefined;
    });
    expect(found.status.name).toBe('RUNNING');
  });

  test('refuses another run or a rollback while it waits, saying how to go on', async () => {
    const busy =
      /is busy: its run needs attention \("profiles": .*`dataflow retry Attention`.*`dataflow discard Attention`/;
    await expect(engine.api.run(NAME)).rejects.toThrow(busy);
    await expect(engine.api.rollback(NAME)).rejects.toThrow(busy);
  });

  test('refuses to retry a table that did not fail, naming the one that did', async () => {
    await expect(engine.api.retry(NAME, ['events'])).rejects.toMatchObject({
      code: 'TableNotFailed',
      message: expect.stringContaining('"events" did not fail in the run of Attention. Its failed table is "profiles"'),
    });
  });

  test('retry and discard of a dataflow with nothing waiting are refused in words', async () => {
    await expect(engine.api.retry(OTHER)).rejects.toMatchObject({
      code: 'NothingWaiting',
      message: expect.stringContaining(
        'Dataflow "Quiet" has no run that needs attention (no operation is in progress)',
      ),
    });
    await expect(engine.api.discard(OTHER)).rejects.toMatchObject({ code: 'NothingWaiting' });
  });

  describe('retried once Klaviyo answers again', () => {
    let result: RunResult;
    let retried: Awaited<ReturnType<TestEngine['api']['retry']>>;

    beforeAll(async () => {
      engine.sandbox.setFaults({});
      engine.sandbox.resetRequestLog();
      retried = await engine.api.retry(NAME);
      result = await engine.api.waitForRun(retried, undefined, { afterRound: retried.round });
    }, 60_000);

    test('commits the same version, in the same run', () => {
      expect(retried).toMatchObject({ runId: started.runId, tables: ['profiles'], version: 2, round: 1 });
      expect(result.version).toBe(2);
    });

    test('reads only the failed table again: the request log has profiles and nothing else', () => {
      const log = engine.sandbox.requestLog();
      expect(log.length).toBeGreaterThan(0);
      expect([...new Set(log.map((r) => r.table))]).toEqual(['profiles']);
      // Once: page 1 alone was never written (a batch holds 10 pages), so the table is read from its start. Beside
      // its pages, a full read of more than a page asks once for its last second (one row, newest first), so that
      // it can split into slices without waiting a round trip for it.
      const probe = (query: string) => {
        const params = new URLSearchParams(query);
        return params.get('page[size]') === '1' && (params.get('sort') ?? '').startsWith('-');
      };
      expect(log.filter((r) => !probe(r.query)).map((r) => r.page)).toEqual([1, 2]);
      expect(log.filter((r) => probe(r.query)).length).toBeLessThanOrEqual(1);
    });

    test('every table holds exactly the sandbox’s rows in version 2', async () => {
      const entities = await engine.api.entities(NAME);
      expect(entities.map((e) => ({ table: e.table, rows: e.rows, version: e.version }))).toEqual(
        [...TABLES].sort().map((table) => ({ table, rows: engine.sandbox.expectedCount(table), version: 2 })),
      );
    });

    test('profiles was extracted twice, every other table once', async () => {
      const temporal = await engine.temporal.client();
      const extract = (await activityRecords(temporal, started.workflowId, started.runId)).get('extractTable');
      expect(extract?.scheduled).toBe(TABLES.length + 1);
    });

    test('the dataflow is Succeeded and the history shows the run completed', async () => {
      const dataflow = await engine.api.get(NAME);
      expect({
        status: dataflow.status,
        lastError: dataflow.lastError,
        currentVersion: dataflow.currentVersion,
      }).toEqual({ status: 'Succeeded', lastError: null, currentVersion: 2 });
      expect(await historyRow(started.runId)).toMatchObject({ status: 'COMPLETED', version: 2, error: null });
    });
  });
});

describe('a run that needs attention, discarded', () => {
  let started: StartedOperation;
  let discarded: Awaited<ReturnType<TestEngine['api']['discard']>>;
  let before: Entity[];

  beforeAll(async () => {
    before = await engine.api.entities(NAME);
    ({ started } = await runUntilNeedsAttention());
    engine.sandbox.setFaults({});
    discarded = await engine.api.discard(NAME);
  }, 60_000);

  test('ends Failed with the table’s error, as a failed run ends', async () => {
    expect(discarded).toMatchObject({ runId: started.runId, version: 3 });
    expect(discarded.error).toMatch(/^Klaviyo refused the request for the table "profiles" as invalid/);
    const history = await historyRow(started.runId);
    expect(history).toMatchObject({ status: 'FAILED', error: discarded.error });
    const dataflow = await engine.api.get(NAME);
    expect({ status: dataflow.status, lastError: dataflow.lastError }).toEqual({
      status: 'Failed',
      lastError: discarded.error,
    });
  });

  test('drops the staged version and leaves the live one alone', async () => {
    expect(await versionStates()).toEqual({ 1: 'committed', 2: 'committed', 3: 'discarded' });
    expect(await engine.api.entities(NAME)).toEqual(before);
  });

  test('rollback still sees the older committed versions', async () => {
    expect(await engine.api.rollback(NAME)).toMatchObject({ fromVersion: 2, toVersion: 1 });
    expect((await engine.api.entities(NAME)).every((e) => e.version === 1)).toBe(true);
  });
});

describe('a run that needs attention and is left alone', () => {
  let started: StartedOperation;
  let error: RunNeedsAttentionError;

  beforeAll(async () => {
    // A worker whose runs wait 4 seconds, not 24 hours, before they discard by themselves.
    await engine.worker?.shutdown();
    engine.worker = await startAttentionWorker(4 / 3600);
    ({ started, error } = await runUntilNeedsAttention());
    engine.sandbox.setFaults({});
  }, 60_000);

  test('discards by itself once the worker’s wait runs out, ending Failed with the table’s error', async () => {
    const waited =
      Date.parse(error.progress.attention?.discardAt ?? '') - Date.parse(error.progress.attention?.since ?? '');
    expect(waited).toBe(4_000);
    const temporal = await engine.temporal.client();
    const failure = await temporal.workflow
      .getHandle(started.workflowId, started.runId)
      .result()
      .then(
        () => null,
        (err: Error) => err,
      );
    expect(failure).not.toBeNull();
    const history = await historyRow(started.runId);
    expect(history.status).toBe('FAILED');
    expect(history.error).toMatch(/^Klaviyo refused the request for the table "profiles" as invalid/);
    expect((await engine.api.get(NAME)).status).toBe('Failed');
    const states = await versionStates();
    expect(states[error.progress.version ?? 0]).toBe('discarded');
  }, 30_000);

  test('no run of the dataflow is listed as needing attention once it ended', async () => {
    const temporal = await engine.temporal.client();
    const ids = await waitFor('visibility to drop the ended run', async () => {
      const found: string[] = [];
      for await (const info of temporal.workflow.list({ query: `DataflowState = 'NeedsAttention'` })) {
        found.push(info.runId);
      }
      return found.includes(started.runId) ? undefined : found;
    });
    expect(ids).toEqual([]);
  });
});

describe('the CLI', () => {
  const cli = (args: string[]) => runCli(engine.env, args);

  beforeAll(async () => {
    await engine.worker?.shutdown();
    engine.worker = await startAttentionWorker(24);
  }, 60_000);

  test('run --wait stops at needs attention (exit 3); list shows it; retry --table re-reads it and commits', async () => {
    engine.sandbox.setFaults(PROFILES_PAGE_2_REFUSED);
    const run = await cli(['run', NAME, '--full', '--wait']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      'The run of Attention needs attention: "profiles": Klaviyo refused the request for the table "profiles"',
    );
    const listed = await cli(['list']);
    expect(listed.stdout).toMatch(/Attention\s.*NeedsAttention/);
    engine.sandbox.setFaults({});
    const wrong = await cli(['retry', NAME, '--table', 'lists']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('"lists" did not fail');
    const retried = await cli(['retry', NAME, '--table', 'profiles', '--wait']);
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toContain('Retrying profiles of Attention');
    expect(retried.stdout).toMatch(/Committed version \d+ of Attention/);
  }, 90_000);

  test('discard ends the run and says what stays live', async () => {
    engine.sandbox.setFaults(PROFILES_PAGE_2_REFUSED);
    try {
      await runUntilNeedsAttention();
    } finally {
      engine.sandbox.setFaults({});
    }
    const discarded = await cli(['discard', NAME]);
    expect(discarded.code).toBe(0);
    expect(discarded.stdout).toMatch(/^Discarded version \d+ of Attention/);
    const nothing = await cli(['discard', NAME]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('has no run that needs attention');
  }, 90_000);
});
