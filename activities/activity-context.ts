import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Dataflow } from '../control-plane/dataflows';
import type { ReportQuotaLedger } from '../control-plane/report-quota';
import type { KlaviyoClient } from '../klaviyo/klaviyo-client';
import type { RetryInfo } from '../klaviyo/client-options';
import { toApplicationFailure } from './activity-failures';
import type { DataflowMetrics } from './dataflow-metrics';
import type { IncrementalOptions } from './incremental-cursor';

/**
 * What every group of activities shares, built once per worker from its dependencies (dataflow-activities.ts):
 * the pools, the settings with their defaults applied, and the way to reach Klaviyo.
 */
export interface ActivityContext {
  pool: pg.Pool;
  /** For checking whether a lock's holder still runs, and for deleting schedules. */
  temporal: Client;
  metrics: DataflowMetrics;
  reportQuota: ReportQuotaLedger;
  /** Aborted when the worker begins to shut down (SIGTERM): extractions hand their table back at once. */
  shutdownSignal?: AbortSignal;
  incrementalOptions: IncrementalOptions;
  needsAttentionHours: number;
  /** Runs `fn` with a Klaviyo client for the dataflow; failures leave as ApplicationFailures with the key cut out. */
  withKlaviyo<T>(
    dataflow: Dataflow,
    fn: (client: KlaviyoClient) => Promise<T>,
    hooks?: { onRetry?: (info: RetryInfo) => void },
  ): Promise<T>;
}

/** Runs `fn`; what it throws leaves as an ApplicationFailure (activity-failures.ts). */
export async function failuresAsApplicationFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toApplicationFailure(err);
  }
}
