import { workflowInfo } from '@temporalio/workflow';
import type { OperationInput, RemoveResult } from '../shared/operations';
import { controlActivities } from './activity-proxies';

/**
 * Deletes a dataflow: its schedule, every table it created and its control-plane rows. The lock
 * goes with the dataflow's row, so there is nothing to release afterwards.
 */
export async function removeDataflow(input: OperationInput): Promise<RemoveResult> {
  const { workflowId } = workflowInfo();
  const { dataflowId } = await controlActivities.acquireLock({
    dataflow: input.dataflow,
    operation: 'remove',
    workflowId,
  });
  const removed = await controlActivities.removeDataflow({ dataflowId });
  return { dataflow: input.dataflow, ...removed };
}
