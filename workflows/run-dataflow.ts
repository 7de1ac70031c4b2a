import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { DataflowStateKey, DataflowTriggerKey, DataflowVersionKey } from '../shared/search-attributes';
import {
  FAILURE_TYPES,
  failedTablesText,
  reportQuotaWaitedNotice,
  reportQuotaWaitWords,
  rootCauseMessage,
  type RetryRequest,
  type RunInput,
  type RunProgress,
  type RunResult,
  type TableSummary,
} from '../shared/operations';
import { controlActivities, extractActivities } from './activity-proxies';

export const progress = defineQuery<RunProgress>('progress');
/** While the run needs attention: extract the failed tables (or those named) again into the same version. */
export const retry = defineSignal<[RetryRequest?]>('retry');
/** While the run needs attention: give up, discarding the staged version as a failed run does. */
export const discard = defineSignal('discard');

/** How many tables are extracted at once; the worker's rate budget keeps them within Klaviyo's limits. */
const TABLES_IN_PARALLEL = 4;

/**
 * One run of a dataflow: validate the key, resolve the selection, stage version N, extract each table
 * into it, and commit all tables at once — or discard the staged version so the last good one stays live.
 * Tables that fail for good leave the run waiting (needs attention) with version N kept: `retry` extracts
 * them again into it, `discard` or the worker's timeout ends the run as a failure.
 */
export async function runDataflow(input: RunInput): Promise<RunResult> {
  const { workflowId, runId, originalExecutionRunId } = workflowInfo();
  // A reset (the Web UI's Reset, or `temporal workflow reset`) runs again under a new run id.
  const trigger = runId !== originalExecutionRunId ? 'retry' : input.trigger;
  const state: RunProgress = { dataflow: input.dataflow, phase: 'starting', version: null, tables: [] };
  setHandler(progress, () => state);
  // A decision counts only while the run waits for one; the API refuses to send one at any other time.
  let decision: { retry: string[] } | 'discard' | undefined;
  setHandler(retry, (request) => {
    if (state.phase === 'needs-attention' && decision === undefined) decision = { retry: request?.tables ?? [] };
  });
  setHandler(discard, () => {
    if (state.phase === 'needs-attention' && decision === undefined) decision = 'discard';
  });
  const decisionNow = () => decision;

  let dataflowId: string;
  try {
    ({ dataflowId } = await controlActivities.acquireLock({ dataflow: input.dataflow, operation: 'run', workflowId }));
  } catch (err) {
    // A scheduled refresh that finds another operation holding the dataflow is skipped, not failed: the
    // next tick tries again. patched() only on this path, so histories of the old code replay unchanged.
    const busy = failureType(err) === FAILURE_TYPES.DataflowBusy;
    if (busy && trigger === 'schedule' && patched(SKIP_BUSY_SCHEDULED_RUN)) {
      state.phase = 'done';
      return { dataflow: input.dataflow, version: 0, tables: [], notices: [], skipped: skippedBecause(err) };
    }
    throw err;
  }
  let version: number | null = null;
  try {
    state.phase = 'validating';
    const validated = await controlActivities.validateApiKey({ dataflowId });

    state.phase = 'discovering';
    const plan = await controlActivities.discoverTables({ dataflowId });
    state.tables = plan.tables.map((table) => ({ table, state: 'pending', rows: 0, pages: 0 }));

    const begun = await controlActivities.beginVersion({
      dataflowId,
      workflowId,
      runId,
      trigger,
      tables: plan.tables,
      full: input.full ?? false,
    });
    version = begun.version;
    state.version = version;
    // Histories of runs begun before incremental refresh existed carry neither field.
    const incremental = begun.incremental ?? {};
    // Histories of runs begun before revision notices existed carry none.
    const notices = [...(validated.notices ?? []), ...plan.notices, ...(begun.notices ?? [])];
    // One upsert, at the same point in every run, so a reset replays the same commands as the original.
    upsertSearchAttributes([
      { key: DataflowVersionKey, value: version },
      { key: DataflowTriggerKey, value: trigger },
    ]);

    state.phase = 'extracting';
    const staged = version;
    const summaries = new Map<string, TableSummary>();
    const failures = new Map<string, unknown>();
    // Report tables that stopped for Klaviyo's daily report quota, and from when they may go on.
    const quotaWaits = new Map<string, string>();
    // Decided once, at the first table that fails for good: a run of the old code cancelled the others and
    // failed; this one lets them finish and then waits. Histories without the marker replay as before.
    let waitOnFailure: boolean | undefined;
    const extract = (entries: RunProgress['tables'], onFirstFailure: () => void) =>
      mapWithConcurrency(entries, TABLES_IN_PARALLEL, onFirstFailure, async (entry) => {
        entry.state = 'running';
        delete entry.error;
        try {
          const summary = await extractActivities.extractTable({
            dataflowId,
            version: staged,
            table: entry.table,
            incremental: incremental[entry.table],
          });
          if (summary.quotaWaitUntil) {
            // Not done: the rest of the run goes on, and the table is read on after the wait below.
            Object.assign(entry, { state: 'pending', rows: summary.rows, pages: summary.pages });
            quotaWaits.set(entry.table, summary.quotaWaitUntil);
            return;
          }
          Object.assign(entry, { state: 'done', rows: summary.rows, pages: summary.pages });
          summaries.set(entry.table, summary);
          failures.delete(entry.table);
          quotaWaits.delete(entry.table);
          notices.push(...(summary.notices ?? []));
        } catch (err) {
          entry.state = isCancellation(err) ? 'pending' : 'failed';
          if (isCancellation(err)) throw err;
          entry.error = rootCauseMessage(err);
          failures.set(entry.table, err);
          if (!(waitOnFailure ??= patched(TABLE_NEEDS_ATTENTION))) throw err;
        }
      });
    const extraction = new CancellationScope();
    await extraction.run(() => extract(state.tables, () => extraction.cancel()));

    // Report tables the daily quota cut short, once everything else is extracted: wait (a durable timer, so a worker
    // restart changes nothing) until the quota frees requests, then read them on. Only runs with report tables get
    // here; the marker keeps histories of older code replaying as before.
    const waitOutQuota = async () => {
      while (quotaWaits.size > 0 && patched(REPORTING_QUOTA_WAIT)) {
        const until = [...quotaWaits.values()].sort()[0];
        const waiting = state.tables.filter((t) => quotaWaits.has(t.table));
        const words = reportQuotaWaitWords(until);
        state.phase = 'waiting-for-quota';
        state.quotaWait = { until, tables: waiting.map((t) => t.table) };
        notices.push(reportQuotaWaitedNotice(until, state.quotaWait.tables));
        await controlActivities.markWaitingForQuota({ dataflowId, until });
        upsertSearchAttributes([{ key: DataflowStateKey, value: 'WaitingForReportQuota' }]);
        setCurrentDetails(
          `**${words.charAt(0).toUpperCase()}${words.slice(1)}** — ${state.quotaWait.tables.join(', ')}. ` +
            `Everything else of version ${staged} is extracted; cancel, rollback and remove still work meanwhile.`,
        );
        try {
          await sleep(Math.max(1_000, Date.parse(until) - Date.now()));
        } finally {
          upsertSearchAttributes([{ key: DataflowStateKey, value: null }]);
          setCurrentDetails('');
          delete state.quotaWait;
        }
        state.phase = 'extracting';
        await controlActivities.markRunning({ dataflowId });
        quotaWaits.clear();
        await extract(waiting, () => undefined);
      }
    };
    await waitOutQuota();

    // Tables failed for good after their retries: keep the staged version and wait for a decision.
    for (let round = 1; failures.size > 0; round++) {
      const failed = state.tables.filter((t) => t.state === 'failed');
      const { waitMs } = await controlActivities.markNeedsAttention({
        dataflowId,
        message: `Needs attention: ${failedTablesText(state)}`,
      });
      const since = Date.now();
      decision = undefined;
      state.phase = 'needs-attention';
      state.attention = {
        since: new Date(since).toISOString(),
        discardAt: new Date(since + waitMs).toISOString(),
        round,
      };
      upsertSearchAttributes([{ key: DataflowStateKey, value: 'NeedsAttention' }]);
      setCurrentDetails(
        `**Needs attention** — ${failedTablesText(state)}.\n\nVersion ${staged} is kept. Signal \`retry\` ` +
          `(optionally \`{"tables": [...]}\`) to extract the failed tables again, or \`discard\`; it is discarded ` +
          `by itself at ${state.attention.discardAt}.`,
      );
      let decided: boolean;
      try {
        decided = await condition(() => decision !== undefined, waitMs);
      } finally {
        // Also when cancelled while waiting: an ended run must not stay listed as needing attention.
        upsertSearchAttributes([{ key: DataflowStateKey, value: null }]);
        setCurrentDetails('');
        delete state.attention;
      }
      // Read through a function: the signal handlers set it, which the compiler's narrowing cannot see.
      const chosen = decided ? decisionNow() : 'discard';
      if (chosen === undefined || chosen === 'discard') throw failures.get(failed[0].table);
      const named = new Set(chosen.retry);
      const again = failed.filter((t) => named.size === 0 || named.has(t.table));
      state.phase = 'extracting';
      for (const entry of again) entry.state = 'pending';
      await controlActivities.markRunning({ dataflowId });
      await extract(again, () => undefined);
      await waitOutQuota();
    }

    state.phase = 'committing';
    const tables = state.tables.map((t) => summaries.get(t.table) as TableSummary);
    await controlActivities.commitVersion({ dataflowId, version: staged, tables });
    state.phase = 'done';
    return { dataflow: input.dataflow, version: staged, tables, notices };
  } catch (err) {
    if (version !== null) {
      state.phase = 'discarding';
      const staged = version;
      await CancellationScope.nonCancellable(() => controlActivities.discardVersion({ dataflowId, version: staged }));
    }
    const cancelled = isCancellation(err);
    await CancellationScope.nonCancellable(() =>
      controlActivities.markEnded({
        dataflowId,
        status: cancelled ? 'Cancelled' : 'Failed',
        message: cancelled ? 'Cancelled on request.' : rootCauseMessage(err),
      }),
    );
    throw err;
  } finally {
    await CancellationScope.nonCancellable(() => controlActivities.releaseLock({ dataflowId, workflowId }));
  }
}

/** The patch that skips a scheduled run finding the dataflow busy, instead of failing it. */
const SKIP_BUSY_SCHEDULED_RUN = 'skip-busy-scheduled-run';
/** The patch that lets a run wait for Klaviyo's daily report quota instead of failing. */
const REPORTING_QUOTA_WAIT = 'reporting-quota-wait';
/** The patch that keeps a run whose table failed for good waiting for `retry` or `discard`. */
const TABLE_NEEDS_ATTENTION = 'table-needs-attention';

/** The `type` of the ApplicationFailure at the root of an activity failure. */
function failureType(err: unknown): string | undefined {
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure) return current.type ?? undefined;
    current = current.cause;
  }
  return undefined;
}

/** `Skipped: a run was in progress.` from the lock's "… is busy: a run (workflow …) has been in progress …". */
function skippedBecause(err: unknown): string {
  const operation = /is busy: an? (\w+)/.exec(rootCauseMessage(err))?.[1] ?? 'another operation';
  return `Skipped: ${operation === 'another operation' ? operation : `a ${operation}`} was in progress.`;
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. The first failure stops new work, calls
 * `onFirstFailure` (to cancel what runs) and is rethrown once the running ones settle.
 */
async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  onFirstFailure: () => void,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: unknown;
  async function lane(): Promise<void> {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]);
      } catch (err) {
        if (failure === undefined) {
          failure = err;
          onFirstFailure();
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => lane()));
  if (failure !== undefined) throw failure;
  return results;
}

export type { TableSummary };
