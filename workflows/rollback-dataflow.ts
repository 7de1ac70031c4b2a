import { CancellationScope, workflowInfo } from '@temporalio/workflow';
import type { OperationInput, RollbackResult } from '../shared/operations';
import { controlActivities } from './activity-proxies';

/** Brings every table of a dataflow back to its previous committed version: a pointer move. */
export async function rollbackDataflow(input: OperationInput): Promise<RollbackResult> {
  const { workflowId, runId } = workflowInfo();
  const { dataflowId } = await controlActivities.acquireLock({
    dataflow: input.dataflow,
    operation: 'rollback',
    workflowId,
  });
  try {
    const moved = await controlActivities.rollbackVersion({ dataflowId, requestId: runId });
    return { dataflow: input.dataflow, ...moved };
  } finally {
    await CancellationScope.nonCancellable(() => controlActivities.releaseLock({ dataflowId, workflowId }));
  }
}
