import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { RemoveInput } from '../../shared/operations';
import type { removeDataflow } from '../../workflows/remove-dataflow';
import type { rollbackDataflow } from '../../workflows/rollback-dataflow';
import { ActivityMocks, DATAFLOW_ID, useWorkflowHarness } from '../support/workflow-harness';

/**
 * rollbackDataflow and removeDataflow with every activity mocked: what each asks under the dataflow's lock, when the
 * lock goes back, and what a refusal (nothing to roll back, objects built on the tables, the dataflow busy) does.
 */
const harness = useWorkflowHarness();

const refusal = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** Runs a rollback of "Shop" against `mocks`: its result, or the failure it ended with. */
function rollback(mocks: ActivityMocks) {
  return harness.withWorker(mocks, async (taskQueue, workflowId) => {
    const handle = await harness.client.workflow.start<typeof rollbackDataflow>('rollbackDataflow', {
      taskQueue,
      workflowId,
      args: [{ dataflow: 'Shop', trigger: 'manual' }],
    });
    const outcome = await handle.result().catch((err: unknown) => err as WorkflowFailedError);
    return { outcome, runId: handle.firstExecutionRunId };
  });
}

function remove(mocks: ActivityMocks, input: Partial<RemoveInput> = {}) {
  return harness.withWorker(mocks, async (taskQueue, workflowId) =>
    harness.client.workflow
      .execute<typeof removeDataflow>('removeDataflow', {
        taskQueue,
        workflowId,
        args: [{ dataflow: 'Shop', trigger: 'manual', ...input }],
      })
      .catch((err: unknown) => err as WorkflowFailedError),
  );
}

const rootType = (err: unknown) => ((err as WorkflowFailedError).cause?.cause as ApplicationFailure).type;

test('a rollback moves the pointer back under the lock, keyed by its run, and releases the lock', async () => {
  const mocks = new ActivityMocks();
  const { outcome, runId } = await rollback(mocks);
  expect(outcome).toEqual({ dataflow: 'Shop', fromVersion: 3, toVersion: 2 });
  expect(mocks.names()).toEqual(['acquireLock', 'rollbackVersion', 'releaseLock']);
  expect(mocks.inputs('acquireLock')[0]).toMatchObject({ dataflow: 'Shop', operation: 'rollback' });
  expect(mocks.inputs('rollbackVersion')).toEqual([{ dataflowId: DATAFLOW_ID, requestId: runId }]);
}, 30_000);

test('a rollback refused (nothing to roll back) fails with that refusal and still releases the lock', async () => {
  const mocks = new ActivityMocks({
    rollbackVersion: async () => {
      throw refusal('NothingToRollBack', 'The dataflow "Shop" has no earlier version to roll back to.');
    },
  });
  const { outcome } = await rollback(mocks);
  expect(outcome).toBeInstanceOf(WorkflowFailedError);
  expect(rootType(outcome)).toBe('NothingToRollBack');
  expect(mocks.names()).toEqual(['acquireLock', 'rollbackVersion', 'releaseLock']);
}, 30_000);

test('a rollback that finds the dataflow busy fails at once and releases nothing it does not hold', async () => {
  const mocks = new ActivityMocks({
    acquireLock: async () => {
      throw refusal(
        'DataflowBusy',
        'The dataflow "Shop" is busy: a run (workflow dataflow-shop) has been in progress …',
      );
    },
  });
  const { outcome } = await rollback(mocks);
  expect(rootType(outcome)).toBe('DataflowBusy');
  expect(mocks.names()).toEqual(['acquireLock']);
}, 30_000);

test('a removal drops the dataflow under its lock; the lock goes with the dataflow, so none is released', async () => {
  const mocks = new ActivityMocks();
  const outcome = await remove(mocks);
  expect(outcome).toEqual({ dataflow: 'Shop', droppedTables: 4, droppedDependents: [] });
  expect(mocks.names()).toEqual(['acquireLock', 'removeDataflow']);
  expect(mocks.inputs('acquireLock')[0]).toMatchObject({ operation: 'remove' });
  // `cascade` only when asked.
  expect(mocks.inputs('removeDataflow')).toEqual([{ dataflowId: DATAFLOW_ID }]);
}, 30_000);

test('a removal with cascade asks the activity to cascade', async () => {
  const mocks = new ActivityMocks({
    removeDataflow: async () => ({ droppedTables: 2, droppedDependents: ['view public.vip_profiles'] }),
  });
  const outcome = await remove(mocks, { cascade: true });
  expect(outcome).toEqual({ dataflow: 'Shop', droppedTables: 2, droppedDependents: ['view public.vip_profiles'] });
  expect(mocks.inputs('removeDataflow')).toEqual([{ dataflowId: DATAFLOW_ID, cascade: true }]);
}, 30_000);

test('a removal refused by objects built on its tables fails with that refusal and gives the lock back', async () => {
  const mocks = new ActivityMocks({
    removeDataflow: async () => {
      throw refusal('DependentObjects', 'view public.vip_profiles depends on shop.profiles');
    },
  });
  const outcome = await remove(mocks);
  expect(rootType(outcome)).toBe('DependentObjects');
  expect(mocks.names()).toEqual(['acquireLock', 'removeDataflow', 'releaseLock']);
  expect(mocks.inputs('releaseLock')).toEqual([{ dataflowId: DATAFLOW_ID, workflowId: expect.any(String) }]);
}, 30_000);
