import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { RunProgress, TableSummary } from '../../shared/operations';
import { DataflowStateKey } from '../../shared/search-attributes';
import {
  ActivityMocks,
  DATAFLOW_ID,
  STAGED_VERSION,
  eventually,
  useWorkflowHarness,
} from '../support/workflow-harness';

/**
 * A report table that Klaviyo's daily report quota cut short (its summary carries `quotaWaitUntil`) is not done: the
 * run extracts everything else, waits on a Temporal timer until then, says so (progress, list status, search
 * attribute, notice), then reads that table on into the same version. Every activity is mocked; the wait is the
 * workflow's shortest (one second).
 */
const harness = useWorkflowHarness();

const TABLES = ['metrics', 'campaign_message_values', 'form_values'];
const REPORTS = new Set(['campaign_message_values', 'form_values']);

/**
 * Report tables stop for the quota on their first call (until `until`) and finish on the next; `failsAfterWait`, if
 * named, fails for good (non-retryably) on its second call instead.
 */
function quotaCutsReports(until: string, failsAfterWait?: string): ActivityMocks {
  const mocks: ActivityMocks = new ActivityMocks({
    discoverTables: async () => ({ tables: TABLES, notices: [] }),
    extractTable: async ({ table }): Promise<TableSummary> => {
      const calls = mocks.inputs('extractTable').filter((i) => i.table === table).length;
      if (REPORTS.has(table) && calls === 1) return { table, rows: 2, pages: 1, bytes: 20, quotaWaitUntil: until };
      if (table === failsAfterWait) {
        throw ApplicationFailure.create({ type: 'KlaviyoBadRequest', message: `${table} refused`, nonRetryable: true });
      }
      return { table, rows: 9, pages: 3, bytes: 90 };
    },
  });
  return mocks;
}

function waitingForQuota(handle: WorkflowHandle): Promise<RunProgress> {
  return eventually(
    () => handle.query<RunProgress>('progress'),
    (p) => p.phase === 'waiting-for-quota',
  );
}

test('tables cut short by the report quota wait for it after the rest, then read on into the same version', async () => {
  // Already past: the workflow still waits its shortest timer, a second.
  const until = new Date(Date.now() - 1_000).toISOString();
  const mocks = quotaCutsReports(until);
  const { waiting, result, history } = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    const progress = await waitingForQuota(handle);
    return { waiting: progress, result: await handle.result(), history: await handle.fetchHistory() };
  });

  expect(waiting.quotaWait).toEqual({ until, tables: ['campaign_message_values', 'form_values'] });
  expect(waiting.tables.map((t) => [t.table, t.state])).toEqual([
    ['metrics', 'done'],
    ['campaign_message_values', 'pending'],
    ['form_values', 'pending'],
  ]);
  expect(mocks.names()).toEqual([
    'acquireLock',
    'validateApiKey',
    'discoverTables',
    'beginVersion',
    'extractTable',
    'extractTable',
    'extractTable',
    'markWaitingForQuota',
    'markRunning',
    'extractTable',
    'extractTable',
    'commitVersion',
    'releaseLock',
  ]);
  expect(mocks.inputs('markWaitingForQuota')).toEqual([{ dataflowId: DATAFLOW_ID, until }]);
  expect(mocks.inputs('extractTable').slice(3)).toEqual([
    { dataflowId: DATAFLOW_ID, version: STAGED_VERSION, table: 'campaign_message_values' },
    { dataflowId: DATAFLOW_ID, version: STAGED_VERSION, table: 'form_values' },
  ]);
  expect(result.tables.map((t) => [t.table, t.rows])).toEqual([
    ['metrics', 9],
    ['campaign_message_values', 9],
    ['form_values', 9],
  ]);
  expect(result.notices).toEqual([
    `Waited for Klaviyo's daily report quota until ${until} (campaign_message_values, form_values)`,
  ]);
  // The wait is a durable timer of the run (a worker restart changes nothing): the history holds it.
  expect((history.events ?? []).filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);
}, 30_000);

test('a run waiting for the quota is marked so (search attribute); cancelled, it discards its version', async () => {
  const mocks = quotaCutsReports(new Date(Date.now() + 3_600_000).toISOString());
  const { failure, after } = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    await waitingForQuota(handle);
    // Set right after the progress says so; the Web UI filters on it.
    await eventually(
      async () => (await handle.describe()).typedSearchAttributes.get(DataflowStateKey),
      (state) => state === 'WaitingForReportQuota',
    );
    await handle.cancel();
    const outcome = await handle.result().catch((e: unknown) => e);
    return { failure: outcome, after: (await handle.describe()).typedSearchAttributes.get(DataflowStateKey) };
  });
  expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  // Unset once the wait ends, cancelled or not.
  expect(after).toBeUndefined();
  expect(mocks.names().slice(-4)).toEqual(['markWaitingForQuota', 'discardVersion', 'markEnded', 'releaseLock']);
  expect(mocks.inputs('markEnded')[0]).toMatchObject({ status: 'Cancelled' });
}, 30_000);

test('a table that fails for good after the wait needs attention like any other', async () => {
  const mocks = quotaCutsReports(new Date().toISOString(), 'form_values');
  const waiting = await harness.withWorker(mocks, async (queue, id) => {
    const handle = await harness.startRun(queue, id);
    const progress = await eventually(
      () => handle.query<RunProgress>('progress'),
      (p) => p.phase === 'needs-attention',
    );
    await handle.signal('discard');
    await handle.result().catch(() => undefined);
    return progress;
  });
  expect(waiting.tables.map((t) => [t.table, t.state])).toEqual([
    ['metrics', 'done'],
    ['campaign_message_values', 'done'],
    ['form_values', 'failed'],
  ]);
  expect(mocks.inputs('markNeedsAttention')).toEqual([
    { dataflowId: DATAFLOW_ID, message: 'Needs attention: "form_values": form_values refused' },
  ]);
  expect(mocks.names().slice(-3)).toEqual(['discardVersion', 'markEnded', 'releaseLock']);
}, 30_000);
