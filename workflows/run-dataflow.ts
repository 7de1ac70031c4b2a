import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { DataflowTriggerKey, DataflowVersionKey } from '../shared/search-attributes';
import {
  FAILURE_TYPES,
  rootCauseMessage,
  type RunInput,
  type RunProgress,
  type RunResult,
  type TableSummary,
} from '../shared/operations';
import { controlActivities, extractActivities } from './activity-proxies';

export const progress = defineQuery<RunProgress>('progress');

/** How many tables are extracted at once; the worker's rate budget keeps them within Klaviyo's limits. */
const TABLES_IN_PARALLEL = 4;

/**
 * One run of a dataflow: validate the key, resolve the selection, stage version N, extract each table
 * into it, and commit all tables at once — or discard the staged version so the last good one stays live.
 */
export async function runDataflow(input: RunInput): Promise<RunResult> {
  const { workflowId, runId, originalExecutionRunId } = workflowInfo();
  // A reset (the Web UI's Reset, or `temporal workflow reset`) runs again under a new run id.
  const trigger = runId !== originalExecutionRunId ? 'retry' : input.trigger;
  const state: RunProgress = { dataflow: input.dataflow, phase: 'starting', version: null, tables: [] };
  setHandler(progress, () => state);

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
    await controlActivities.validateApiKey({ dataflowId });

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
    const notices = [...plan.notices, ...(begun.notices ?? [])];
    // One upsert, at the same point in every run, so a reset replays the same commands as the original.
    upsertSearchAttributes([
      { key: DataflowVersionKey, value: version },
      { key: DataflowTriggerKey, value: trigger },
    ]);

    state.phase = 'extracting';
    const staged = version;
    // A table that fails for good cancels the others: the version is discarded anyway.
    const extraction = new CancellationScope();
    const summaries = await extraction.run(() =>
      mapWithConcurrency(
        state.tables,
        TABLES_IN_PARALLEL,
        () => extraction.cancel(),
        async (entry) => {
          entry.state = 'running';
          try {
            const summary = await extractActivities.extractTable({
              dataflowId,
              version: staged,
              table: entry.table,
              incremental: incremental[entry.table],
            });
            Object.assign(entry, { state: 'done', rows: summary.rows, pages: summary.pages });
            return summary;
          } catch (err) {
            entry.state = isCancellation(err) ? 'pending' : 'failed';
            if (!isCancellation(err)) entry.error = rootCauseMessage(err);
            throw err;
          }
        },
      ),
    );

    state.phase = 'committing';
    await controlActivities.commitVersion({ dataflowId, version: staged, tables: summaries });
    state.phase = 'done';
    return { dataflow: input.dataflow, version: staged, tables: summaries, notices };
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
  items: T[],
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
