import { randomUUID } from 'node:crypto';
import type { Entity } from '../../warehouse/entities';
import { RunNeedsAttentionError, type StartedOperation } from '../../client/dataflow-api';
import type { RunResult } from '../../shared/operations';
import { startWorker } from '../../worker/create-worker';
import { startTestEngine, workflowBundle, type TestEngine } from '../support/engine';
import { activityRecords, firstWorkflowTaskCompletedEventId } from './workflow-events';

/**
 * A table that keeps failing leaves the run needing attention after the activity's retries; discarded, the run
 * fails. Once the fault is gone, an operator resets the failed execution the way the Web UI does, and the new run
 * commits a fresh version.
 */
let engine: TestEngine;
const NAME = 'ResetDemo';
const TABLES = ['accounts', 'profiles', 'events', 'metrics', 'lists'];
/** profiles has 150 rows, read 100 per page: page 2 exists only in an extraction, never in the scope check. */
const PROFILES_PAGE_2_ALWAYS_FAILS = { rules: [{ table: 'profiles', page: 2, kind: 'status' as const, status: 500 }] };

let before: Entity[];
let failed: StartedOperation;
let needsAttention: RunNeedsAttentionError;
/** The failure the discarded run ended with. */
let failure: string;
let resetRunId: string;
let resetResult: RunResult;

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 150, events: 600, metrics: 4, lists: 3 } },
  });
  // The Klaviyo client's own retries of a page are shortened; the workflow's retry policy (5 attempts,
  // backoff from 2 s) is what this file exercises, unchanged.
  engine.worker = await startWorker({
    temporalAddress: engine.temporal.address,
    namespace: engine.temporal.namespace,
    databaseUrl: engine.database.url,
    workflowBundle: await workflowBundle(),
    activities: { klaviyoRetry: { baseDelayMs: 10, maxDelayMs: 50 } },
  });
  await engine.api.create({
    name: NAME,
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: TABLES,
  });
  await engine.api.waitForRun(await engine.api.run(NAME));
  before = await engine.api.entities(NAME);

  engine.sandbox.setFaults(PROFILES_PAGE_2_ALWAYS_FAILS);
  // Full: an incremental refresh of unchanged profiles would read one page and never meet the fault.
  failed = await engine.api.run(NAME, { full: true });
  const waiting = await engine.api.waitForRun(failed).then(
    () => {
      throw new Error('The run succeeded although profiles kept failing.');
    },
    (err: unknown) => err,
  );
  if (!(waiting instanceof RunNeedsAttentionError)) throw waiting;
  needsAttention = waiting;
  failure = (await engine.api.discard(NAME)).error;
}, 150_000);

afterAll(async () => {
  await engine?.stop();
});

test('a table that always fails leaves the run needing attention after five attempts; discarded, it fails', async () => {
  expect(needsAttention.message).toMatch(
    /^The run of ResetDemo needs attention: "profiles": Klaviyo answered HTTP 500 to \d+ attempt\(s\) to read the table "profiles"\./,
  );
  expect(failure).toMatch(/^Klaviyo answered HTTP 500 to \d+ attempt\(s\) to read the table "profiles"\./);
  const extract = (await activityRecords(await engine.temporal.client(), failed.workflowId, failed.runId)).get(
    'extractTable',
  );
  expect(Math.max(...(extract?.attempts ?? []))).toBe(5);
  expect(extract?.failures).toEqual([failure]);
});

test('the failed run leaves the previous version live', async () => {
  expect(await engine.api.entities(NAME)).toEqual(before);
});

test('resetting the failed run to its first workflow task, once the fault is cleared, commits the next version', async () => {
  engine.sandbox.setFaults({});
  const temporal = await engine.temporal.client();
  // The generated service method is typed as callback-or-promise (`void & Promise`); the promise is what it returns.
  const reset: Promise<{ runId?: string | null }> = temporal.workflowService.resetWorkflowExecution({
    namespace: engine.temporal.namespace,
    workflowExecution: { workflowId: failed.workflowId, runId: failed.runId },
    workflowTaskFinishEventId: await firstWorkflowTaskCompletedEventId(temporal, failed.workflowId, failed.runId),
    requestId: randomUUID(),
    reason: 'Klaviyo answers again',
  });
  const { runId } = await reset;
  resetRunId = runId ?? '';
  expect(resetRunId).not.toBe('');
  expect(resetRunId).not.toBe(failed.runId);
  resetResult = (await temporal.workflow
    .getHandle(failed.workflowId, resetRunId, { followRuns: false })
    .result()) as RunResult;
  // Version 2 was staged and discarded by the failed run; numbers are never reused.
  expect(resetResult.version).toBe(3);
}, 60_000);

test('after the reset every table shows the new version with exactly the sandbox row count', async () => {
  const entities = await engine.api.entities(NAME);
  expect(entities.map((e) => ({ table: e.table, rows: e.rows, version: e.version }))).toEqual(
    [...TABLES].sort().map((table) => ({ table, rows: engine.sandbox.expectedCount(table), version: 3 })),
  );
  expect(resetResult.tables.find((t) => t.table === 'profiles')?.rows).toBe(engine.sandbox.expectedCount('profiles'));
});

test('after the reset run the dataflow is free again: Succeeded, on the new version, no lock held', async () => {
  const dataflow = await engine.api.get(NAME);
  expect({ status: dataflow.status, currentVersion: dataflow.currentVersion, lastError: dataflow.lastError }).toEqual({
    status: 'Succeeded',
    currentVersion: 3,
    lastError: null,
  });
  const { rows } = await engine.api.pool.query('SELECT workflow_id FROM dataflow_control.operation_locks');
  expect(rows).toEqual([]);
});

test('the history shows the failed run and the reset run that committed', async () => {
  const runs = (await engine.api.history(NAME)).filter((r) => r.operation === 'run');
  expect(runs.map((r) => ({ runId: r.runId, status: r.status, version: r.version, trigger: r.trigger }))).toEqual([
    { runId: resetRunId, status: 'COMPLETED', version: 3, trigger: 'retry' },
    { runId: failed.runId, status: 'FAILED', version: 2, trigger: 'manual' },
    { runId: expect.any(String), status: 'COMPLETED', version: 1, trigger: 'manual' },
  ]);
  expect(runs[1].error).toBe(failure);
});
