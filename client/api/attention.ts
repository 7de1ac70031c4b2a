/** A run that needs attention (tables failed for good, its version kept): retry its failed tables, or discard it. */
import { WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { getDataflow, type Dataflow } from '../../control-plane/dataflows';
import { rootCauseMessage, type RetryRequest, type RunProgress } from '../../shared/operations';
import { UserInputError } from '../../shared/user-input-error';
import { runningInfo, started, type ApiContext, type StartedOperation } from './context';

/**
 * Extracts the failed tables of the run that needs attention (or only `tables`, which must be among them) again
 * into its kept version, which is committed once no table has failed. Returns at once; follow the run with
 * {@link waitForRun} and `afterRound: round`. Refused (`NothingWaiting`) when no run of the dataflow waits.
 */
export async function retry(
  ctx: ApiContext,
  name: string,
  tables: string[] = [],
): Promise<StartedOperation & { tables: string[]; version: number | null; round: number }> {
  const { dataflow, handle, progress, runId } = await waitingRun(ctx, name, 'retry');
  const failed = progress.tables.filter((t) => t.state === 'failed').map((t) => t.table);
  const named = [...new Set(tables.map((t) => t.trim()).filter(Boolean))];
  const notFailed = named.filter((t) => !failed.includes(t));
  if (notFailed.length > 0) {
    throw new UserInputError(
      `Only tables that failed can be retried: ${notFailed.map((t) => `"${t}"`).join(', ')} did not fail in the ` +
        `run of ${dataflow.name}. Its failed ${failed.length === 1 ? 'table is' : 'tables are'} ` +
        `${failed.map((t) => `"${t}"`).join(', ')}; name none to retry them all.`,
      'TableNotFailed',
    );
  }
  await signalWaiting(dataflow, handle, 'retry', named.length > 0 ? { tables: named } : {});
  return {
    ...(await started(ctx, handle, runId)),
    tables: named.length > 0 ? named : failed,
    version: progress.version,
    round: progress.attention?.round ?? 1,
  };
}

/**
 * Ends the run that needs attention as a failed run ends: its staged version is discarded, the live one stays,
 * and the history shows the table's error. Waits for the run to end (a few seconds).
 */
export async function discard(
  ctx: ApiContext,
  name: string,
): Promise<StartedOperation & { version: number | null; error: string }> {
  const { dataflow, handle, progress, runId } = await waitingRun(ctx, name, 'discard');
  await signalWaiting(dataflow, handle, 'discard');
  const error = await handle.result().then(
    () => '',
    (err: unknown) => (err instanceof WorkflowFailedError ? rootCauseMessage(err.cause ?? err) : rootCauseMessage(err)),
  );
  return { ...(await started(ctx, handle, runId)), version: progress.version, error };
}

/** The run of the dataflow that needs attention now, or a refusal that says what is going on instead. */
async function waitingRun(
  ctx: ApiContext,
  name: string,
  action: 'retry' | 'discard',
): Promise<{ dataflow: Dataflow; handle: WorkflowHandle; progress: RunProgress; runId: string }> {
  const dataflow = await getDataflow(ctx.pool, name);
  const running = await runningInfo(ctx, dataflow);
  const progress =
    running?.operation === 'runDataflow'
      ? await ctx.temporal.workflow
          .getHandle(running.workflowId, running.runId)
          .query<RunProgress>('progress')
          .catch(() => null)
      : null;
  if (!running || !progress || progress.phase !== 'needs-attention') {
    const now = running
      ? `its ${running.operation.replace(/Dataflow$/, '')} is ${progress ? progress.phase : 'in progress'}`
      : 'no operation is in progress';
    throw new UserInputError(
      `Dataflow "${dataflow.name}" has no run that needs attention (${now}): nothing to ${action}. A run needs ` +
        'attention when a table fails for good; `dataflow list` shows it.',
      'NothingWaiting',
    );
  }
  const handle = ctx.temporal.workflow.getHandle(running.workflowId, running.runId);
  return { dataflow, handle, progress, runId: running.runId };
}

/** Sends retry or discard; a run that ended in between (its wait ran out) is said so. */
async function signalWaiting(
  dataflow: Dataflow,
  handle: WorkflowHandle,
  signal: 'retry' | 'discard',
  arg?: RetryRequest,
): Promise<void> {
  try {
    if (arg === undefined) await handle.signal(signal);
    else await handle.signal<[RetryRequest]>(signal, arg);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    throw new UserInputError(
      `The run of ${dataflow.name} ended before the ${signal} reached it (its wait had run out); \`dataflow history ` +
        `${dataflow.name}\` shows how it ended.`,
      'NothingWaiting',
    );
  }
}
