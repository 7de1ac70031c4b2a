import { proxyActivities } from '@temporalio/workflow';
import type { DataflowActivities } from '../activities/dataflow-activities';

/*
 * Whether a failure is worth retrying is declared once, by the error that describes it (its `retryable`), and
 * travels as the ApplicationFailure's `nonRetryable` flag (activities/activity-failures.ts); the retry policies
 * below name no types.
 */

/** Short control-plane steps: validation, discovery, version bookkeeping, locks. */
export const controlActivities = proxyActivities<DataflowActivities>({
  startToCloseTimeout: '2 minutes',
  // The worker heartbeats these while they run (worker/activity-heartbeats.ts): a lost worker is noticed in 5 s.
  heartbeatTimeout: '5s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
  },
});

/**
 * Extraction of one table: long, heartbeating its cursor checkpoint. A worker that dies is noticed
 * within the heartbeat timeout and the retry resumes from the last checkpoint.
 */
export const extractActivities = proxyActivities<DataflowActivities>({
  startToCloseTimeout: '6 hours',
  // Extraction beats every 2 s and the worker forwards beats within 1 s: 5 s is two missed beats.
  heartbeatTimeout: '5s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});
