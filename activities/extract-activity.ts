import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES, type TableSummary } from '../shared/operations';
import { getTable } from '../klaviyo/catalog';
import type { KlaviyoClient } from '../klaviyo/klaviyo-client';
import { tableRateLimits } from '../klaviyo/query';
import { tierName } from '../klaviyo/rate-budget';
import { warehouseSchemaName } from '../control-plane/dataflow-name';
import { getTables } from '../control-plane/dataflow-tables';
import { getDataflowById } from '../control-plane/dataflows';
import { getReportSettings } from '../control-plane/report-settings';
import { failuresAsApplicationFailures, type ActivityContext } from './activity-context';
import { extractReport, isReportTable } from './extract-report';
import {
  extractTable as extractIntoVersion,
  retryingWords,
  type ExtractInput,
  type ExtractProgress,
} from './extract-table';
import type { IncrementalPlan } from './incremental-cursor';

/** The activity that reads one table, from the Reporting API or a list endpoint, into the staged version. */
export function createExtractActivities({ pool, metrics, reportQuota, shutdownSignal, withKlaviyo }: ActivityContext) {
  return {
    /** Streams one table into the staged version (all of it, or what changed), heartbeating its checkpoint. */
    async extractTable(input: {
      dataflowId: string;
      version: number;
      table: string;
      incremental?: IncrementalPlan;
    }): Promise<TableSummary> {
      const context = Context.current();
      const dataflow = await failuresAsApplicationFailures(() => getDataflowById(pool, input.dataflowId));
      const selection = (await getTables(pool, dataflow.id)).find((t) => t.table === input.table);
      if (!selection) {
        throw ApplicationFailure.create({
          type: FAILURE_TYPES.InvalidSelection,
          nonRetryable: true,
          message: `The table "${input.table}" is no longer part of the dataflow "${dataflow.name}".`,
        });
      }
      // Cancelled by Temporal, or handed back when the worker shuts down (SIGTERM).
      const signal = shutdownSignal
        ? AbortSignal.any([context.cancellationSignal, shutdownSignal])
        : context.cancellationSignal;
      // What the report and the list read both take; each adds its own and how it reports progress.
      const extractInput = (client: KlaviyoClient): ExtractInput => ({
        pool,
        client,
        dataflowId: dataflow.id,
        schema: warehouseSchemaName(dataflow.name),
        version: input.version,
        selection,
        incremental: input.incremental,
        signal,
      });
      if (isReportTable(input.table)) {
        const settings = await failuresAsApplicationFailures(() => getReportSettings(pool, dataflow.id));
        return withKlaviyo(dataflow, (client) =>
          extractReport({
            ...extractInput(client),
            settings,
            quota: reportQuota,
            account: dataflow.accountId ?? client.accountKey,
            onProgress: (progress) => context.heartbeat(progress),
          }),
        );
      }
      let last: ExtractProgress = { table: input.table, part: '', rows: 0, pages: 0, nextUrl: null };
      const tier = tierName(tableRateLimits(getTable(input.table), new URLSearchParams()));
      const started = performance.now();
      let outcome: 'completed' | 'failed' = 'failed';
      // A retried attempt resumes from its checkpoint: what the last attempt heartbeated was counted already.
      const before = context.info.heartbeatDetails as Partial<ExtractProgress> | undefined;
      let counted = { rows: before?.rows ?? 0, pages: before?.pages ?? 0 };
      // Waiting on the rate budget can outlast the heartbeat timeout: keep reporting while alive.
      const beat = setInterval(() => context.heartbeat(last), 2_000);
      try {
        context.heartbeat(last);
        const summary = await withKlaviyo(
          dataflow,
          (client) =>
            extractIntoVersion({
              ...extractInput(client),
              onProgress: (progress) => {
                metrics.loaded({
                  table: input.table,
                  tier,
                  rows: Math.max(0, progress.rows - counted.rows),
                  pages: Math.max(0, progress.pages - counted.pages),
                });
                counted = {
                  rows: Math.max(counted.rows, progress.rows),
                  pages: Math.max(counted.pages, progress.pages),
                };
                last = progress;
                context.heartbeat(progress);
              },
            }),
          {
            // Retries inside one attempt of the activity can take a minute: say why nothing arrives meanwhile.
            onRetry: (info) => {
              last = { ...last, retrying: retryingWords(info) };
              context.heartbeat(last);
            },
          },
        );
        outcome = 'completed';
        return summary;
      } finally {
        clearInterval(beat);
        metrics.tableExtracted({ table: input.table, tier, seconds: (performance.now() - started) / 1000, outcome });
      }
    },
  };
}
