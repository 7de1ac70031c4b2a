import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { deleteSchedule } from '../shared/schedules';
import {
  FAILURE_TYPES,
  reportQuotaWaitWords,
  type Operation,
  type TableSummary,
  type Trigger,
} from '../shared/operations';
import { toApplicationFailure } from './activity-failures';
import { CATALOG, getTable, type CatalogTable } from '../klaviyo/catalog';
import { KlaviyoClient, type KlaviyoClientOptions, type RetryInfo } from '../klaviyo/klaviyo-client';
import { LeasedRateBudgets } from '../klaviyo/leased-rate-budget';
import { tierName, type RateBudgetSource } from '../klaviyo/rate-budget';
import { tableRateLimits } from '../klaviyo/query';
import { PostgresRateLeases } from '../control-plane/rate-leases';
import { NO_METRICS, type DataflowMetrics } from './dataflow-metrics';
import { isKlaviyoError, KlaviyoMissingScopeError } from '../klaviyo/errors';
import { warehouseSchemaName } from '../control-plane/dataflow-name';
import {
  deleteDataflow,
  getDataflow,
  getDataflowById,
  getTables,
  loadApiKey,
  setDataflowStatus,
  type Dataflow,
} from '../control-plane/dataflows';
import { DataflowBusyError, DataflowNotFoundError } from '../control-plane/errors';
import { acquireOperationLock, releaseOperationLock } from '../control-plane/operation-locks';
import { SecretBox } from '../control-plane/secret-box';
import { allocateVersion, getVersion } from '../control-plane/versions';
import { sweepDue } from '../klaviyo/deletion-sweep';
import {
  commitVersion as commitWarehouseVersion,
  createVersionTables,
  discardVersion as discardWarehouseVersion,
  rollbackToPrevious,
} from '../warehouse/versioned-tables';
import { dropDataflowWarehouse } from '../warehouse/warehouse-schema';
import {
  extractTable as extractIntoVersion,
  retryingWords,
  selectedLayout,
  type ExtractProgress,
} from './extract-table';
import {
  planIncremental,
  readIncrementalOptions,
  type IncrementalOptions,
  type IncrementalPlan,
} from './incremental-cursor';
import { readNeedsAttentionHours } from './needs-attention-timeout';
import { extractReport, isReportTable } from './extract-report';
import { planReportRefresh } from './report-refresh';
import { ReportQuotaLedger, readReportQuotaLimits, type ReportQuotaLimits } from '../control-plane/report-quota';
import { getReportSettings } from '../control-plane/report-settings';

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

/** `KLAVIYO_RATE_LIMITS=off` or `KLAVIYO_RATE_LIMITS=<scale>` (e.g. 0.5); unset means Klaviyo's real tiers. */
export function readKlaviyoRateLimits(env: NodeJS.ProcessEnv = process.env): { enabled: boolean; scale?: number } {
  const value = env.KLAVIYO_RATE_LIMITS?.trim();
  if (!value || value === 'on') return { enabled: true };
  if (value === 'off') return { enabled: false };
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(`KLAVIYO_RATE_LIMITS must be "on", "off" or a positive scale such as 0.5, not "${value}".`);
  }
  return { enabled: true, scale };
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
      // Postgres unreachable: nothing is sent meanwhile, the budget asks again; the activity's own queries will fail.
      onStoreError: (err) => console.warn(`worker: rate budget ledger unreachable (${errorText(err)}); retrying`),
    });
  let secretBox: Promise<SecretBox> | undefined = deps.secrets ? Promise.resolve(deps.secrets) : undefined;
  const secrets = () => (secretBox ??= SecretBox.fromConfig());

  /** Runs `fn` with a Klaviyo client for the dataflow; failures leave as ApplicationFailures with the key cut out. */
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

  async function failuresAsApplicationFailures<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toApplicationFailure(err);
    }
  }

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

    /** Resolves the saved selection against the catalog; what changed is reported, not dropped silently. */
    async discoverTables(input: { dataflowId: string }): Promise<{ tables: string[]; notices: string[] }> {
      return failuresAsApplicationFailures(async () => {
        const saved = await getTables(pool, input.dataflowId);
        const notices: string[] = [];
        for (const selection of saved.filter((t) => t.selected)) {
          const now = new Set(getTable(selection.table).fields.map((f) => f.name));
          const before = new Set(selection.availableFields.map((f) => f.name));
          const gone = selection.selectedFields.filter((f) => !now.has(f));
          const added = [...now].filter((f) => !before.has(f));
          if (gone.length) notices.push(`${selection.table}: Klaviyo no longer offers ${gone.join(', ')}`);
          if (added.length)
            notices.push(`${selection.table}: new fields available (not selected): ${added.join(', ')}`);
        }
        const tables = saved.filter((t) => t.selected).map((t) => t.table);
        if (tables.length === 0) {
          throw ApplicationFailure.create({
            type: FAILURE_TYPES.InvalidSelection,
            nonRetryable: true,
            message: 'No table is selected: select at least one with `dataflow edit <name> --tables …`.',
          });
        }
        return { tables, notices };
      });
    },

    /**
     * Allocates version N and creates its tables out of readers' sight, and plans how each table is read:
     * incrementally on top of the committed version readers see, unless `full`, or the table has no change
     * cursor, or its layout changed (then in full, with a notice). Idempotent per workflow run.
     */
    async beginVersion(input: {
      dataflowId: string;
      workflowId: string;
      runId: string;
      trigger: Trigger;
      tables: string[];
      full: boolean;
    }): Promise<{ version: number; incremental: Record<string, IncrementalPlan>; notices: string[] }> {
      return failuresAsApplicationFailures(async () => {
        const dataflow = await getDataflowById(pool, input.dataflowId);
        const selections = (await getTables(pool, dataflow.id)).filter((t) => input.tables.includes(t.table));
        const { version } = await allocateVersion(pool, {
          dataflowId: dataflow.id,
          workflowId: input.workflowId,
          runId: input.runId,
          trigger: input.trigger,
          tables: input.tables,
        });
        const schema = warehouseSchemaName(dataflow.name);
        const incremental: Record<string, IncrementalPlan> = {};
        const notices: string[] = [];
        const base =
          dataflow.currentVersion === null ? undefined : await getVersion(pool, dataflow.id, dataflow.currentVersion);
        const now = new Date();
        for (const selection of selections) {
          const table = getTable(selection.table);
          if (isReportTable(table.name)) {
            // A report table is refreshed by its attribution window, not by a change cursor (report-refresh.ts).
            const report = await planReportRefresh(pool, {
              schema,
              layout: selectedLayout(selection),
              base: dataflow.currentVersion,
              full: input.full,
              settings: await getReportSettings(pool, dataflow.id),
              now,
            });
            if (report.notice) notices.push(report.notice);
            if (report.plan) incremental[selection.table] = report.plan;
            continue;
          }
          const baseRead = base?.reads[selection.table];
          const decision = await planIncremental(pool, {
            schema,
            table,
            layout: selectedLayout(selection),
            base: dataflow.currentVersion,
            full: input.full,
            options: incrementalOptions,
            baseRead,
          });
          if (decision.notice) notices.push(decision.notice);
          if (!decision.plan) continue;
          const lastSweptAt = baseRead?.sweptAt ?? undefined;
          const deletionSweep = sweepDue({
            table,
            setting: dataflow.deletionSweep,
            rows: base?.rows[selection.table],
            lastSweptAt,
            now,
          });
          incremental[selection.table] = { ...decision.plan, deletionSweep, lastSweptAt: lastSweptAt ?? null };
        }
        // A table read in full gets its primary key once loaded (cheaper); one read incrementally needs it
        // from the start, since changed rows replace rows of the same key.
        await createVersionTables(pool, {
          dataflowId: dataflow.id,
          schema,
          version,
          tables: selections.map(selectedLayout),
          keyAfterLoad: selections.map((s) => s.table).filter((table) => !incremental[table]),
        });
        await setDataflowStatus(pool, dataflow.id, 'Running');
        return { version, incremental, notices };
      });
    },

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
      const signal = deps.shutdownSignal
        ? AbortSignal.any([context.cancellationSignal, deps.shutdownSignal])
        : context.cancellationSignal;
      if (isReportTable(input.table)) {
        const settings = await failuresAsApplicationFailures(() => getReportSettings(pool, dataflow.id));
        return withKlaviyo(dataflow, (client) =>
          extractReport({
            pool,
            client,
            dataflowId: dataflow.id,
            schema: warehouseSchemaName(dataflow.name),
            version: input.version,
            selection,
            incremental: input.incremental,
            settings,
            quota: reportQuota,
            account: dataflow.accountId ?? client.accountKey,
            signal,
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
              pool,
              client,
              dataflowId: dataflow.id,
              schema: warehouseSchemaName(dataflow.name),
              version: input.version,
              selection,
              incremental: input.incremental,
              signal,
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

    /** Switches every table to version N in one transaction; old versions beyond 3 are dropped. */
    async commitVersion(input: { dataflowId: string; version: number; tables: TableSummary[] }): Promise<void> {
      await failuresAsApplicationFailures(async () => {
        const dataflow = await getDataflowById(pool, input.dataflowId);
        await commitWarehouseVersion(pool, {
          dataflowId: dataflow.id,
          schema: warehouseSchemaName(dataflow.name),
          version: input.version,
          tables: input.tables.map((t) => ({ table: t.table, rows: t.rows })),
        });
        await setDataflowStatus(pool, dataflow.id, 'Succeeded');
      });
    },

    /** Drops a staged version after a failure or cancellation; the live version is never touched. */
    async discardVersion(input: { dataflowId: string; version: number }): Promise<void> {
      await failuresAsApplicationFailures(async () => {
        const dataflow = await getDataflowById(pool, input.dataflowId);
        await discardWarehouseVersion(pool, {
          dataflowId: dataflow.id,
          schema: warehouseSchemaName(dataflow.name),
          version: input.version,
        });
      });
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

    async rollbackVersion(input: {
      dataflowId: string;
      requestId: string;
    }): Promise<{ fromVersion: number; toVersion: number }> {
      return failuresAsApplicationFailures(async () => {
        const dataflow = await getDataflowById(pool, input.dataflowId);
        const outcome = await rollbackToPrevious(pool, {
          dataflowId: dataflow.id,
          schema: warehouseSchemaName(dataflow.name),
          requestId: input.requestId,
        });
        return { fromVersion: outcome.fromVersion, toVersion: outcome.toVersion };
      });
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

export type DataflowActivities = ReturnType<typeof createActivities>;

/** An error's message for a log line (the ledger's errors are Postgres's: no key in them). */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The scopes, among those `tables` need, that the key lacks. Each scope is probed once with the
 * cheapest read that needs only it; a scope with no such table is left to the extraction to report.
 */
export async function missingScopes(
  client: KlaviyoClient,
  tables: readonly CatalogTable[],
): Promise<{ missing: Set<string>; accountId: string | null }> {
  const missing = new Set<string>();
  const account = await client.getAccount().catch((err: unknown) => {
    // A valid key without accounts:read is fine here; any other failure (401 above all) is final.
    if (!(err instanceof KlaviyoMissingScopeError)) throw err;
    missing.add('accounts:read');
    return null;
  });
  const needed = new Set(tables.flatMap((t) => t.scopes));
  // The account call already answered for its scope (an XS-tier endpoint: 1/s, 15/min).
  needed.delete('accounts:read');
  for (const scope of needed) {
    const probe = CATALOG.find(
      (t) => t.scopes.length === 1 && t.scopes[0] === scope && !t.parent && t.requiredFilter?.kind !== 'parent',
    );
    if (!probe) continue;
    try {
      await client.firstPage({
        table: probe,
        parentId: probe.requiredFilter?.kind === 'channel' ? probe.requiredFilter.values[0] : undefined,
        pageSize: probe.pageSize ? probe.pageSize.min : undefined,
        fields: probe.idsOnly || probe.fields.length === 0 ? undefined : [probe.fields[0].name],
      });
    } catch (err) {
      if (isKlaviyoError(err) && err.type === 'KlaviyoMissingScope') missing.add(scope);
      else throw err;
    }
  }
  return { missing, accountId: account?.id ?? null };
}
