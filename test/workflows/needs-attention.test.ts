import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { RetryRequest, RunProgress } from '../../shared/operations';
import { DataflowStateKey } from '../../shared/search-attributes';
import {
  ActivityMocks,
  DATAFLOW_ID,
  STAGED_VERSION,
  eventually,
  gate,
  useWorkflowHarness,
  type MockActivities,
} from '../support/workflow-harness';

/**
 * A table that fails for good leaves the run waiting for a decision with its staged version kept (needs attention):
 * `retry` extracts the failed tables (or those named) again into the same version, `discard` or the wait's timeout
 * ends the run as a failure. Every activity is mocked; the failures are non-retryable, so no backoff is waited.
 */
const harness = useWorkflowHarness();

const TABLES = ['profiles', 'events', 'metrics'];

/** Tables fail (non-retryably, with their name in the message) while `failing` holds them. */
function failingTables(failing: Set<string>, overrides: Partial<MockActivities> = {}): ActivityMocks {
  return new ActivityMocks({
    discoverTables: async () => ({ tables: TABLES, notices: [] }),
    extractTable: async ({ table }) => {
      if (failing.has(table)) {
        throw ApplicationFailure.create({ type: 'KlaviyoBadRequest', message: `${table} refused`, nonRetryable: true });
      }
      return { table, rows: 5, pages: 1, bytes: 50 };
    },
    ...overrides,
  });
}

/** The run's progress once it waits for a decision (the `round`-th time). */
function needsAttention(handle: WorkflowHandle, round = 1): Promise<RunProgress> {
  return eventually(
    () => handle.query<RunProgress>('progress'),
    (p) => p.phase === 'needs-attention' && p.attention?.round === round,
  );
}

const extracted = (mocks: ActivityMocks) => mocks.inputs('extractTable').map((i) => i.table);

test('a failed table lets the others finish, then the run waits with its version kept; retry reads it again and commits', async () => {
  const failing = new Set(['events']);
  const mocks = failingTables(failing);
  const { waiting, state, result } = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    const progress = await needsAttention(handle);
    const described = await handle.describe();
    failing.clear();
    await handle.signal<[RetryRequest?]>('retry');
    return {
      waiting: progress,
      state: described.typedSearchAttributes.get(DataflowStateKey),
      result: await handle.result(),
    };
  });

  expect(waiting.version).toBe(STAGED_VERSION);
  expect(waiting.tables.map((t) => [t.table, t.state, t.error])).toEqual([
    ['profiles', 'done', undefined],
    ['events', 'failed', 'events refused'],
    ['metrics', 'done', undefined],
  ]);
  expect(Date.parse(waiting.attention?.discardAt ?? '') - Date.parse(waiting.attention?.since ?? '')).toBe(60_000);
  expect(state).toBe('NeedsAttention');
  expect(mocks.inputs('markNeedsAttention')).toEqual([
    { dataflowId: DATAFLOW_ID, message: 'Needs attention: "events": events refused' },
  ]);
  // Only the failed table again, into the same version; nothing discarded.
  expect(extracted(mocks)).toEqual(['profiles', 'events', 'metrics', 'events']);
  expect(mocks.inputs('extractTable').every((i) => i.version === STAGED_VERSION)).toBe(true);
  expect(mocks.names().slice(-5)).toEqual([
    'markNeedsAttention',
    'markRunning',
    'extractTable',
    'commitVersion',
    'releaseLock',
  ]);
  expect(mocks.names()).not.toContain('discardVersion');
  expect(result.version).toBe(STAGED_VERSION);
  expect(result.tables.map((t) => t.table)).toEqual(TABLES);
}, 30_000);

test('retry of named tables reads only those; the others still failing wait again, and discard ends the run', async () => {
  const failing = new Set(['profiles', 'metrics']);
  const mocks = failingTables(failing);
  const { second, failure } = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    await needsAttention(handle);
    failing.delete('metrics');
    await handle.signal<[RetryRequest?]>('retry', { tables: ['metrics'] });
    const again = await needsAttention(handle, 2);
    await handle.signal('discard');
    return { second: again, failure: await handle.result().catch((e: unknown) => e) };
  });

  expect(extracted(mocks)).toEqual(['profiles', 'events', 'metrics', 'metrics']);
  expect(second.tables.map((t) => t.state)).toEqual(['failed', 'done', 'done']);
  expect(mocks.inputs('markNeedsAttention').map((i) => i.message)).toEqual([
    'Needs attention: "profiles": profiles refused; "metrics": metrics refused',
    'Needs attention: "profiles": profiles refused',
  ]);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect(mocks.names().slice(-3)).toEqual(['discardVersion', 'markEnded', 'releaseLock']);
  expect(mocks.inputs('markEnded')).toEqual([
    { dataflowId: DATAFLOW_ID, status: 'Failed', message: 'profiles refused' },
  ]);
  expect(mocks.names()).not.toContain('commitVersion');
}, 30_000);

test('with no decision the run discards its version by itself when the wait runs out', async () => {
  const mocks = failingTables(new Set(['metrics']), { markNeedsAttention: async () => ({ waitMs: 1_000 }) });
  const failure = await harness.withWorker(mocks, async (queue, id) =>
    (await harness.startRun(queue, id)).result().catch((e: unknown) => e),
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect(mocks.names().slice(-4)).toEqual(['markNeedsAttention', 'discardVersion', 'markEnded', 'releaseLock']);
  expect(mocks.inputs('discardVersion')).toEqual([{ dataflowId: DATAFLOW_ID, version: STAGED_VERSION }]);
}, 30_000);

test('the first decision counts: a discard sent right after a retry is ignored', async () => {
  const failing = new Set(['events']);
  const mocks = failingTables(failing);
  const result = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    await needsAttention(handle);
    failing.clear();
    await handle.signal<[RetryRequest?]>('retry');
    await handle.signal('discard');
    return handle.result();
  });
  expect(result.version).toBe(STAGED_VERSION);
  expect(mocks.inputs('markNeedsAttention')).toHaveLength(1);
  expect(mocks.names()).not.toContain('discardVersion');
}, 30_000);

test('retry and discard sent while the run extracts are ignored: the wait that follows needs its own decision', async () => {
  const failing = new Set(['events']);
  const hold = gate();
  const base = failingTables(failing).implementations.extractTable;
  const mocks = failingTables(failing, {
    extractTable: async (input) => {
      await hold.opened;
      return base(input);
    },
  });
  const result = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    // Recorded while every table is held in extraction, so the run reads both signals there.
    await mocks.called('extractTable', 3);
    await handle.signal('discard');
    await handle.signal<[RetryRequest?]>('retry');
    hold.open();
    await needsAttention(handle);
    failing.clear();
    await handle.signal<[RetryRequest?]>('retry');
    return handle.result();
  });
  expect(result.version).toBe(STAGED_VERSION);
  expect(mocks.inputs('markNeedsAttention')).toHaveLength(1);
  expect(mocks.names()).not.toContain('discardVersion');
}, 30_000);

test('a run cancelled while it needs attention discards its version and ends Cancelled', async () => {
  const mocks = failingTables(new Set(['profiles']));
  const { failure, state } = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    await needsAttention(handle);
    await handle.cancel();
    const outcome = await handle.result().catch((e: unknown) => e);
    return { failure: outcome, state: (await handle.describe()).typedSearchAttributes.get(DataflowStateKey) };
  });
  expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  // An ended run is not listed as needing attention.
  expect(state).toBeUndefined();
  expect(mocks.names().slice(-3)).toEqual(['discardVersion', 'markEnded', 'releaseLock']);
  expect(mocks.inputs('markEnded')[0]).toMatchObject({ status: 'Cancelled' });
}, 30_000);
