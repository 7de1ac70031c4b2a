import { reportQuotaWaitWords, type Operation } from '../shared/operations';
import { deleteSchedule } from '../shared/schedules';
import { warehouseSchemaName } from '../control-plane/dataflow-name';
import {
  deleteDataflow,
  getDataflow,
  getDataflowById,
  setDataflowStatus,
  type Dataflow,
} from '../control-plane/dataflows';
import { DataflowBusyError, DataflowNotFoundError } from '../control-plane/errors';
import { acquireOperationLock, releaseOperationLock } from '../control-plane/operation-locks';
import { dropDataflowWarehouse } from '../warehouse/warehouse-schema';
import { failuresAsApplicationFailures, type ActivityContext } from './activity-context';

/** The activities around a run: its operation lock, the status the dataflow list shows, and removing a dataflow. */
export function createStatusActivities({ pool, temporal, needsAttentionHours }: ActivityContext) {
  async function isRunning(workflowId: string): Promise<boolean> {
    try {
      const description = await temporal.workflow.getHandle(workflowId).describe();
      return description.status.name === 'RUNNING';
    } catch {
      return false;
    }
  }

  return {
    /**
     * Takes the dataflow's operation lock for this workflow: at most one run, rollback or remove per
     * dataflow. A lock left by a workflow that no longer runs (terminated) is taken over.
     */
    async acquireLock(input: {
      dataflow: string;
      operation: Operation;
      workflowId: string;
    }): Promise<{ dataflowId: string }> {
      return failuresAsApplicationFailures(async () => {
        const dataflow = await getDataflow(pool, input.dataflow);
        const lock = { dataflowId: dataflow.id, workflowId: input.workflowId, operation: input.operation };
        try {
          await acquireOperationLock(pool, lock);
        } catch (err) {
          if (!(err instanceof DataflowBusyError) || (await isRunning(err.workflowId))) throw err;
          await releaseOperationLock(pool, { dataflowId: dataflow.id, workflowId: err.workflowId });
          await acquireOperationLock(pool, lock);
        }
        return { dataflowId: dataflow.id };
      });
    },

    async releaseLock(input: { dataflowId: string; workflowId: string }): Promise<void> {
      await failuresAsApplicationFailures(() => releaseOperationLock(pool, input));
    },

    /** Records how a run ended for the dataflow list; the message is what the user reads. */
    async markEnded(input: {
      dataflowId: string;
      status: 'Failed' | 'Cancelled';
      message: string | null;
    }): Promise<void> {
      await failuresAsApplicationFailures(() => setDataflowStatus(pool, input.dataflowId, input.status, input.message));
    },

    /**
     * The run keeps its staged version and waits: the list shows `NeedsAttention` with the failed tables' errors.
     * Returns how long to wait before discarding by itself (the worker's setting, so it lands in the history).
     */
    async markNeedsAttention(input: { dataflowId: string; message: string }): Promise<{ waitMs: number }> {
      await failuresAsApplicationFailures(() =>
        setDataflowStatus(pool, input.dataflowId, 'NeedsAttention', input.message),
      );
      return { waitMs: Math.round(needsAttentionHours * 3_600_000) };
    },

    /** The run waits for Klaviyo's daily report quota until `until`: the list says so (status stays Running). */
    async markWaitingForQuota(input: { dataflowId: string; until: string }): Promise<void> {
      const words = reportQuotaWaitWords(input.until);
      await failuresAsApplicationFailures(() =>
        setDataflowStatus(pool, input.dataflowId, 'Running', words.charAt(0).toUpperCase() + words.slice(1)),
      );
    },

    /** A run retrying its failed tables is running again. */
    async markRunning(input: { dataflowId: string }): Promise<void> {
      await failuresAsApplicationFailures(() => setDataflowStatus(pool, input.dataflowId, 'Running'));
    },

    /**
     * Drops what the dataflow created in the warehouse, then deletes its schedule and its rows; safe to retry after a
     * partial run. Objects others built on its tables refuse it (DependentObjects) before anything changes, unless
     * `cascade`.
     */
    async removeDataflow(input: {
      dataflowId: string;
      cascade?: boolean;
    }): Promise<{ droppedTables: number; droppedDependents: string[] }> {
      return failuresAsApplicationFailures(async () => {
        let dataflow: Dataflow;
        try {
          dataflow = await getDataflowById(pool, input.dataflowId);
        } catch (err) {
          if (err instanceof DataflowNotFoundError) return { droppedTables: 0, droppedDependents: [] };
          throw err;
        }
        // The warehouse first: its refusal must leave the schedule (and everything else) as it was.
        const dropped = await dropDataflowWarehouse(pool, {
          dataflowId: dataflow.id,
          schema: warehouseSchemaName(dataflow.name),
          cascade: input.cascade ?? false,
        });
        await deleteSchedule(temporal, dataflow.name);
        await deleteDataflow(pool, dataflow.id);
        return dropped;
      });
    },
  };
}
