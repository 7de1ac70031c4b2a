import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { FAILURE_TYPES } from '../shared/operations';
import { toApplicationFailure } from './activity-failures';
import { getTable } from '../klaviyo/catalog';
import { KlaviyoClient } from '../klaviyo/klaviyo-client';
import type { KlaviyoClientOptions, RetryInfo } from '../klaviyo/client-options';
import { LEDGER_FAILURE_WORDS, LeasedRateBudgets } from '../klaviyo/leased-rate-budget';
import type { RateBudgetSource } from '../klaviyo/rate-budget';
import { PostgresRateLeases } from '../control-plane/rate-leases';
import { NO_METRICS, type DataflowMetrics } from './dataflow-metrics';
import { readKlaviyoRateLimits } from '../klaviyo/rate-limit-setting';
import { missingScopes } from '../klaviyo/scope-probe';
import { getTables } from '../control-plane/dataflow-tables';
import { getDataflowById, loadApiKey, type Dataflow } from '../control-plane/dataflows';
import { SecretBox } from '../control-plane/secret-box';
import { readIncrementalOptions, type IncrementalOptions } from './incremental-cursor';
import { readNeedsAttentionHours } from './needs-attention-timeout';
import { ReportQuotaLedger, readReportQuotaLimits, type ReportQuotaLimits } from '../control-plane/report-quota';
import { failuresAsApplicationFailures, type ActivityContext } from './activity-context';
import { createExtractActivities } from './extract-activity';
import { createStatusActivities } from './status-activities';
import { createVersionActivities } from './version-activities';

export interface ActivityDependencies {
  pool: pg.Pool;
  /** For checking whether a lock's holder still runs, and for deleting schedules. */
  temporal: Client;
  /** @default SecretBox.fromConfig() */
  secrets?: SecretBox;
  /**
   * The client-side rate budget: Klaviyo's real tiers by default. Off, or scaled, only against a
   * sandbox whose limits are off or scaled the same way. @default readKlaviyoRateLimits()
   */
  klaviyoRateLimits?: { enabled: boolean; scale?: number };
  /**
   * Where the rate budgets live. @default leases from Postgres, so every worker on the same database shares one
   * budget per Klaviyo account and tier (klaviyo/leased-rate-budget.ts)
   */
  rateBudgets?: RateBudgetSource;
  /** Counters and timings for the worker's metrics endpoint. @default none */
  metrics?: DataflowMetrics;
  /**
   * Aborted when the worker begins to shut down (SIGTERM): extractions hand their table back at once, as a retryable
   * failure, and another worker resumes it from its checkpoint; short steps run to their end.
   */
  shutdownSignal?: AbortSignal;
  /**
   * How the Klaviyo client retries one page within an activity attempt. Tests shorten the delays so
   * an always-failing table reaches the workflow's retry policy in seconds. @default the client's (5 attempts from 500 ms)
   */
  klaviyoRetry?: KlaviyoClientOptions['retry'];
  /** How incremental refreshes look back (events' late-arrival window). @default readIncrementalOptions() */
  incremental?: IncrementalOptions;
  /** How long a run with tables failed for good waits before it discards by itself. @default readNeedsAttentionHours() */
  needsAttentionHours?: number;
  /** Klaviyo's daily Reporting API quota per account, shared through Postgres. @default readReportQuotaLimits() */
  reportQuota?: ReportQuotaLimits;
}

/**
 * The activities of the dataflow workflows: every piece of I/O. They take ids and names, never the
 * API key: each loads it from the control plane itself and forgets it when it returns.
 */
export function createActivities(deps: ActivityDependencies) {
  const { pool, temporal } = deps;
  const rateLimits = deps.klaviyoRateLimits ?? readKlaviyoRateLimits();
  const incrementalOptions = deps.incremental ?? readIncrementalOptions();
  const needsAttentionHours = deps.needsAttentionHours ?? readNeedsAttentionHours();
  const metrics = deps.metrics ?? NO_METRICS;
  const reportQuota = new ReportQuotaLedger(pool, deps.reportQuota ?? readReportQuotaLimits());
  const rateBudgets =
    deps.rateBudgets ??
    new LeasedRateBudgets({
      store: new PostgresRateLeases(pool),
      // Postgres unreachable: the activity's own queries will fail too.
      onStoreError: (err, failed) =>
        console.warn(`worker: rate budget ledger unreachable (${errorText(err)}): ${LEDGER_FAILURE_WORDS[failed]}`),
    });
  let secretBox: Promise<SecretBox> | undefined = deps.secrets ? Promise.resolve(deps.secrets) : undefined;
  const secrets = () => (secretBox ??= SecretBox.fromConfig());

  async function withKlaviyo<T>(
    dataflow: Dataflow,
    fn: (client: KlaviyoClient) => Promise<T>,
    hooks: { onRetry?: (info: RetryInfo) => void } = {},
  ): Promise<T> {
    const apiKey = await failuresAsApplicationFailures(async () => loadApiKey(pool, await secrets(), dataflow.id));
    let client: KlaviyoClient | undefined;
    try {
      client = new KlaviyoClient({
        apiKey,
        baseUrl: dataflow.baseUrl,
        accountKey: dataflow.accountId ?? undefined,
        rateLimits,
        rateBudgets,
        retry: deps.klaviyoRetry,
        onRequest: (info) => metrics.request(info),
        onRateWait: (info) => metrics.rateWait(info),
        onRetry: hooks.onRetry,
      });
      return await fn(client);
    } catch (err) {
      throw toApplicationFailure(err, [apiKey]);
    } finally {
      client?.close();
    }
  }

  const context: ActivityContext = {
    pool,
    temporal,
    metrics,
    reportQuota,
    shutdownSignal: deps.shutdownSignal,
    incrementalOptions,
    needsAttentionHours,
    withKlaviyo,
  };

  // The activities' names are the keys below: workflows call them, recorded histories replay them. Keep them.
  return {
    ...createStatusActivities(context),

    /**
     * One cheap call proves the key; then each scope the selected tables need is probed once, so a
     * missing scope is reported, per table, before anything is extracted.
     */
    async validateApiKey(input: { dataflowId: string }): Promise<{ accountId: string | null; notices?: string[] }> {
      const dataflow = await failuresAsApplicationFailures(() => getDataflowById(pool, input.dataflowId));
      const selected = (await getTables(pool, dataflow.id)).filter((t) => t.selected).map((t) => getTable(t.table));
      return withKlaviyo(dataflow, async (client) => {
        const { missing } = await missingScopes(client, selected);
        if (missing.size > 0) {
          const lines = selected
            .map((t) => ({ table: t.name, scopes: t.scopes.filter((s) => missing.has(s)) }))
            .filter((t) => t.scopes.length > 0)
            .map((t) => `"${t.table}" needs ${t.scopes.join(', ')}`);
          throw ApplicationFailure.create({
            type: FAILURE_TYPES.MissingScope,
            nonRetryable: true,
            message:
              `The API key lacks scopes that selected tables need: ${lines.join('; ')}. ` +
              'Add the scopes to the key in Klaviyo (Settings → API keys) or deselect those tables.',
          });
        }
        const revision = client.revisionNotice();
        return { accountId: dataflow.accountId, notices: revision ? [revision] : [] };
      });
    },

    ...createVersionActivities(context),
    ...createExtractActivities(context),
  };
}

export type DataflowActivities = ReturnType<typeof createActivities>;

/** An error's message for a log line (the ledger's errors are Postgres's: no key in them). */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
