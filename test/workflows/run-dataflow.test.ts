import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { RunProgress } from '../../shared/operations';
import { DataflowTriggerKey, DataflowVersionKey } from '../../shared/search-attributes';
import type { runDataflow } from '../../workflows/run-dataflow';
import {
  ActivityMocks,
  DATAFLOW_ID,
  STAGED_VERSION,
  eventually,
  gate,
  useWorkflowHarness,
  untilCancelled,
} from '../support/workflow-harness';

/**
 * runDataflow's decisions with every activity mocked: the order of its steps, what it hands each, how many tables it
 * reads at once, what it does when a step fails (retryable or not), when it is cancelled, when a scheduled run finds
 * the dataflow busy, and what trigger a reset runs under. Waits for a decision and for the report quota:
 * needs-attention.test.ts, report-quota.test.ts.
 */
const harness = useWorkflowHarness();

/** The failure a workflow ended with, from its result. */
async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const err = await handle.result().then(
    () => new Error('the workflow succeeded'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

const nonRetryable = (type: string, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

test('a run locks, validates, discovers, stages, extracts each table, commits and unlocks, in that order', async () => {
  const mocks = new ActivityMocks({
    validateApiKey: async () => ({ accountId: 'acct-1', notices: ['key notice'] }),
    discoverTables: async () => ({ tables: ['profiles', 'events', 'metrics'], notices: ['plan notice'] }),
    beginVersion: async () => ({
      version: STAGED_VERSION,
      incremental: { events: { fromVersion: 6, since: '2026-01-01T00:00:00Z' } as never },
      notices: ['version notice'],
    }),
    extractTable: async ({ table }) => ({
      table,
      rows: table.length,
      pages: 1,
      bytes: 10,
      notices: table === 'metrics' ? ['metrics notice'] : undefined,
    }),
  });
  const { result, described } = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id, { dataflow: 'Shop', trigger: 'schedule', full: true });
    return { result: await handle.result(), described: await handle.describe() };
  });

  expect(mocks.names()).toEqual([
    'acquireLock',
    'validateApiKey',
    'discoverTables',
    'beginVersion',
    'extractTable',
    'extractTable',
    'extractTable',
    'commitVersion',
    'releaseLock',
  ]);
  expect(mocks.inputs('acquireLock')).toEqual([{ dataflow: 'Shop', operation: 'run', workflowId: expect.any(String) }]);
  const [begun] = mocks.inputs('beginVersion');
  expect(begun).toMatchObject({ dataflowId: DATAFLOW_ID, trigger: 'schedule', full: true });
  expect(begun.tables).toEqual(['profiles', 'events', 'metrics']);
  // Each table into the staged version; only the one with a plan gets it.
  expect(mocks.inputs('extractTable')).toEqual([
    { dataflowId: DATAFLOW_ID, version: STAGED_VERSION, table: 'profiles' },
    { dataflowId: DATAFLOW_ID, version: STAGED_VERSION, table: 'events', incremental: expect.any(Object) },
    { dataflowId: DATAFLOW_ID, version: STAGED_VERSION, table: 'metrics' },
  ]);
  const [commit] = mocks.inputs('commitVersion');
  expect(commit).toMatchObject({ dataflowId: DATAFLOW_ID, version: STAGED_VERSION });
  expect((commit.tables as { table: string }[]).map((t) => t.table)).toEqual(['profiles', 'events', 'metrics']);
  expect(mocks.inputs('releaseLock')).toEqual([{ dataflowId: DATAFLOW_ID, workflowId: begun.workflowId }]);

  expect(result.version).toBe(STAGED_VERSION);
  expect(result.tables.map((t) => [t.table, t.rows])).toEqual([
    ['profiles', 8],
    ['events', 6],
    ['metrics', 7],
  ]);
  expect(result.notices).toEqual(['key notice', 'plan notice', 'version notice', 'metrics notice']);
  expect(result.skipped).toBeUndefined();
  expect(described.typedSearchAttributes.get(DataflowVersionKey)).toBe(STAGED_VERSION);
  expect(described.typedSearchAttributes.get(DataflowTriggerKey)).toBe('schedule');
}, 30_000);

test("a reset (the Web UI's Reset) runs again under a new run id, as a retry", async () => {
  const mocks = new ActivityMocks();
  const { first, again, trigger } = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    const result = await handle.result();
    const history = await handle.fetchHistory();
    const firstTask = (history.events ?? []).find((e) => e.workflowTaskCompletedEventAttributes);
    const { runId } = await harness.client.workflowService.resetWorkflowExecution({
      namespace: harness.temporal.namespace,
      workflowExecution: { workflowId: id, runId: handle.firstExecutionRunId },
      workflowTaskFinishEventId: firstTask?.eventId,
      reason: 'test',
      requestId: `reset-${id}`,
    });
    const reset = harness.client.workflow.getHandle<typeof runDataflow>(id, runId ?? undefined);
    const second = await reset.result();
    return {
      first: result,
      again: second,
      trigger: (await reset.describe()).typedSearchAttributes.get(DataflowTriggerKey),
    };
  });
  expect(mocks.inputs('beginVersion').map((i) => i.trigger)).toEqual(['manual', 'retry']);
  expect(trigger).toBe('retry');
  expect([first.version, again.version]).toEqual([STAGED_VERSION, STAGED_VERSION]);
}, 30_000);

test('at most four tables are extracted at once; the rest start as those finish', async () => {
  const tables = ['a', 'b', 'c', 'd', 'e', 'f'];
  const release = gate();
  let running = 0;
  let most = 0;
  const mocks = new ActivityMocks({
    discoverTables: async () => ({ tables, notices: [] }),
    extractTable: async ({ table }) => {
      most = Math.max(most, ++running);
      await release.opened;
      running--;
      return { table, rows: 1, pages: 1, bytes: 1 };
    },
  });
  const result = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    await mocks.called('extractTable', 4);
    const progress = await eventually(
      () => handle.query<RunProgress>('progress'),
      (p) => p.tables.filter((t) => t.state === 'running').length === 4,
    );
    expect(progress.phase).toBe('extracting');
    expect(progress.tables.map((t) => t.state)).toEqual([
      'running',
      'running',
      'running',
      'running',
      'pending',
      'pending',
    ]);
    expect(mocks.inputs('extractTable')).toHaveLength(4);
    release.open();
    return handle.result();
  });
  expect(most).toBe(4);
  expect(mocks.inputs('extractTable').map((i) => i.table)).toEqual(tables);
  expect(result.tables.map((t) => t.table)).toEqual(tables);
}, 30_000);

test('a key refused for good fails the run before a version is staged: nothing to discard, the lock goes back', async () => {
  const mocks = new ActivityMocks({
    validateApiKey: async () => {
      throw nonRetryable('KlaviyoInvalidApiKey', 'Klaviyo refused the API key.');
    },
  });
  const failure = await harness.withWorker(mocks, async (queue, id) => failureOf(await harness.startRun(queue, id)));
  expect(mocks.names()).toEqual(['acquireLock', 'validateApiKey', 'markEnded', 'releaseLock']);
  expect(mocks.inputs('markEnded')).toEqual([
    { dataflowId: DATAFLOW_ID, status: 'Failed', message: 'Klaviyo refused the API key.' },
  ]);
  expect(failure.cause).toBeInstanceOf(ActivityFailure);
  expect((failure.cause?.cause as ApplicationFailure).type).toBe('KlaviyoInvalidApiKey');
}, 30_000);

test('a retryable failure of a step is retried by its policy, and the run goes on', async () => {
  const mocks = new ActivityMocks({
    validateApiKey: async () => {
      if (mocks.inputs('validateApiKey').length === 1) throw new Error('connection reset');
      return { accountId: 'acct-1', notices: [] };
    },
  });
  const result = await harness.withWorker(mocks, async (queue, id) => (await harness.startRun(queue, id)).result());
  expect(mocks.calls.filter((c) => c.name === 'validateApiKey').map((c) => c.attempt)).toEqual([1, 2]);
  expect(result.version).toBe(STAGED_VERSION);
  expect(mocks.names()).toContain('commitVersion');
}, 30_000);

test('a commit that fails discards the staged version, records the failure and unlocks', async () => {
  const mocks = new ActivityMocks({
    commitVersion: async () => {
      throw nonRetryable('InvalidSelection', 'The table "events" is no longer part of the dataflow "Shop".');
    },
  });
  await harness.withWorker(mocks, async (queue, id) => failureOf(await harness.startRun(queue, id)));
  expect(mocks.names().slice(-4)).toEqual(['commitVersion', 'discardVersion', 'markEnded', 'releaseLock']);
  expect(mocks.inputs('discardVersion')).toEqual([{ dataflowId: DATAFLOW_ID, version: STAGED_VERSION }]);
  expect(mocks.inputs('markEnded')[0]).toMatchObject({ status: 'Failed', message: expect.stringMatching(/no longer/) });
}, 30_000);

test('a run cancelled while extracting discards its version, ends Cancelled, and commits nothing', async () => {
  const mocks = new ActivityMocks({ extractTable: () => untilCancelled() });
  const failure = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    await mocks.called('extractTable', 2);
    await handle.cancel();
    return failureOf(handle);
  });
  expect(failure.cause).toBeInstanceOf(CancelledFailure);
  expect(mocks.names()).not.toContain('commitVersion');
  expect(mocks.names().slice(-3)).toEqual(['discardVersion', 'markEnded', 'releaseLock']);
  expect(mocks.inputs('markEnded')).toEqual([
    { dataflowId: DATAFLOW_ID, status: 'Cancelled', message: 'Cancelled on request.' },
  ]);
}, 30_000);

const busy = () =>
  nonRetryable(
    'DataflowBusy',
    'The dataflow "Shop" is busy: a rollback (workflow dataflow-shop) has been in progress since …',
  );

test('a scheduled run that finds the dataflow busy is skipped, not failed, and touches nothing', async () => {
  const mocks = new ActivityMocks({ acquireLock: async () => Promise.reject(busy()) });
  const result = await harness.withWorker(mocks, async (queue, id) =>
    (await harness.startRun(queue, id, { dataflow: 'Shop', trigger: 'schedule' })).result(),
  );
  expect(result).toEqual({
    dataflow: 'Shop',
    version: 0,
    tables: [],
    notices: [],
    skipped: 'Skipped: a rollback was in progress.',
  });
  expect(mocks.names()).toEqual(['acquireLock']);
}, 30_000);

test('a manual run that finds the dataflow busy fails with the lock holder named, and releases nothing', async () => {
  const mocks = new ActivityMocks({ acquireLock: async () => Promise.reject(busy()) });
  const failure = await harness.withWorker(mocks, async (queue, id) => failureOf(await harness.startRun(queue, id)));
  expect(mocks.names()).toEqual(['acquireLock']);
  expect((failure.cause?.cause as ApplicationFailure).type).toBe('DataflowBusy');
}, 30_000);
