import { CancellationScope, patched, workflowInfo } from '@temporalio/workflow';
import type { RemoveInput, RemoveResult } from '../shared/operations';
import { controlActivities } from './activity-proxies';

/** Marks removals that give their lock back when refused; histories from before it replay without. */
const RELEASE_LOCK_WHEN_REFUSED = 'remove-releases-lock-when-refused';

/**
 * Deletes a dataflow: every table it created, its schedule and its control-plane rows. Objects others built on its
 * tables refuse it unless `cascade`. The lock goes with the dataflow's row; a refused (failed) removal leaves the
 * dataflow as it was, so it gives the lock back.
 */
export async function removeDataflow(input: RemoveInput): Promise<RemoveResult> {
  const { workflowId } = workflowInfo();
  const { dataflowId } = await controlActivities.acquireLock({
    dataflow: input.dataflow,
    operation: 'remove',
    workflowId,
  });
  try {
    // `cascade` only when asked: the activity input of older histories stays as it was.
    const removed = await controlActivities.removeDataflow(
      input.cascade ? { dataflowId, cascade: true } : { dataflowId },
    );
    return { dataflow: input.dataflow, ...removed };
  } catch (err) {
    // patched() only on this path, so histories of the old code (which failed without releasing) replay unchanged.
    if (patched(RELEASE_LOCK_WHEN_REFUSED)) {
      await CancellationScope.nonCancellable(() => controlActivities.releaseLock({ dataflowId, workflowId }));
    }
    throw err;
  }
}
