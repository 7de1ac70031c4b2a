/** Operations as Temporal workflows: starting one (one at a time per dataflow), waiting for it, cancel, rollback, remove. */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { warehouseSchemaName } from '../../control-plane/dataflow-name';
import { getDataflow, type Dataflow } from '../../control-plane/dataflows';
import { listCommittedVersions } from '../../control-plane/versions';
import { DependentObjectsError } from '../../warehouse/errors';
import { dependentObjectsError } from '../../warehouse/dependent-objects';
import { dependentsOfDataflowWarehouse } from '../../warehouse/warehouse-schema';
import { TASK_QUEUE } from '../../shared/config';
import {
  FAILURE_TYPES,
  failedTablesText,
  operationWorkflowId,
  rootCauseMessage,
  rootCauseType,
  type Operation,
  type OperationInput,
  type RemoveInput,
  type RemoveResult,
  type RollbackResult,
  type RunInput,
  type RunProgress,
  type RunResult,
  type Trigger,
} from '../../shared/operations';
import { DataflowNameKey, DataflowOperationKey, DataflowTriggerKey } from '../../shared/search-attributes';
import { UserInputError } from '../../shared/user-input-error';
import { runUrl } from '../run-history';
import { runningInfo, started, type ApiContext, type StartedOperation } from './context';
import { progress as liveProgress, type LiveProgress } from './progress';

/** Starts a run; `trigger` is what the history shows. */
export async function run(
  ctx: ApiContext,
  name: string,
  options: { full?: boolean; trigger?: Trigger } = {},
): Promise<StartedOperation> {
  const dataflow = await getDataflow(ctx.pool, name);
  const input: RunInput = {
    dataflow: dataflow.name,
    trigger: options.trigger ?? 'manual',
    full: options.full ?? false,
  };
  const handle = await start(ctx, dataflow, 'run', 'runDataflow', input);
  return started(ctx, handle);
}

/**
 * Waits for a run, reporting live progress about once a second; returns its result or throws its failure in words.
 * A run that comes to need attention ends the wait with {@link RunNeedsAttentionError} (its version is kept;
 * the error says what to do), except a wait up to `afterRound`: the one a retry (attention.ts) has just answered.
 */
export async function waitForRun(
  ctx: ApiContext,
  started: StartedOperation,
  onProgress?: (progress: LiveProgress) => void,
  options: { afterRound?: number } = {},
): Promise<RunResult> {
  const handle = ctx.temporal.workflow.getHandle(started.workflowId, started.runId);
  // The long poll for the result is cancelled when the wait ends without it (a run that needs attention): left
  // pending, its gRPC retry would fire after the CLI closed the connection and crash the process.
  const stopWaiting = new AbortController();
  const result = ctx.connection.withAbortSignal(stopWaiting.signal, () => handle.result()) as Promise<RunResult>;
  let settled = false;
  const ended = result.then(
    () => (settled = true),
    () => (settled = true),
  );
  // Likewise a progress query still out when the run ends: it is cancelled, and waited for, before the wait returns.
  // Each query has its own signal: the client leaves a listener on the signal it is given, one a second on a
  // shared one would pile up over a long run.
  let stopAsking: AbortController | undefined;
  let asked: Promise<RunProgress | LiveProgress | null> = Promise.resolve(null);
  try {
    while (!settled) {
      stopAsking = new AbortController();
      // The query alone when nobody watches: it tells a run that waits for attention from one that runs.
      const query = ctx.connection.withAbortSignal<RunProgress | LiveProgress>(stopAsking.signal, () =>
        onProgress ? liveProgress(handle) : handle.query<RunProgress>('progress'),
      );
      asked = query.catch(() => null);
      const progress = await Promise.race([asked, ended.then(() => null)]);
      if (progress && !settled) {
        if (onProgress) onProgress(progress as LiveProgress);
        if (progress.phase === 'needs-attention' && (progress.attention?.round ?? 1) > (options.afterRound ?? 0)) {
          throw new RunNeedsAttentionError(progress, started.url);
        }
      }
      await Promise.race([ended, new Promise((r) => setTimeout(r, 1000))]);
    }
  } finally {
    if (!settled) stopWaiting.abort();
    stopAsking?.abort();
    await asked;
  }
  try {
    return await result;
  } catch (err) {
    throw new OperationFailedError(err, started.url);
  }
}

export async function cancel(ctx: ApiContext, name: string): Promise<StartedOperation> {
  const dataflow = await getDataflow(ctx.pool, name);
  const running = await runningInfo(ctx, dataflow);
  if (!running) throw new UserInputError(`Dataflow "${dataflow.name}" has no operation in progress to cancel.`);
  const handle = ctx.temporal.workflow.getHandle(running.workflowId, running.runId);
  await handle.cancel();
  return started(ctx, handle, running.runId);
}

/**
 * Brings every table back to the previous committed version. Refused before anything starts
 * (`NothingToRollBack`) when the control plane keeps no earlier committed version.
 */
export async function rollback(ctx: ApiContext, name: string): Promise<RollbackResult & { url: string }> {
  const dataflow = await getDataflow(ctx.pool, name);
  await endQuotaWait(ctx, dataflow);
  // Busy first: the run in progress may be about to give it something to roll back to.
  const running = await runningInfo(ctx, dataflow);
  if (running) {
    throw busyError(
      dataflow.name,
      running.operation,
      runUrl(ctx.settings.uiUrl, ctx.settings.namespace, running.workflowId, running.runId),
      running.attention,
    );
  }
  const current = dataflow.currentVersion;
  if (current === null) {
    throw new UserInputError(
      `Dataflow "${dataflow.name}" has no committed version yet: nothing to roll back. Run it first with \`dataflow run ${dataflow.name}\`.`,
      'NothingToRollBack',
    );
  }
  const committed = await listCommittedVersions(ctx.pool, dataflow.id);
  if (!committed.some((v) => v < current)) {
    throw new UserInputError(
      `Dataflow "${dataflow.name}" shows version ${current} and keeps no earlier committed version: nothing to roll back to.`,
      'NothingToRollBack',
    );
  }
  return runToCompletion<RollbackResult>(ctx, name, 'rollback', 'rollbackDataflow');
}

/**
 * Removes the dataflow, its schedule and what it created in the warehouse. Objects others built on its tables
 * (or put in its schema) refuse it before anything starts, by name (`DependentObjects`), unless `cascade`, which
 * drops them too. The workflow checks again as it drops, in one transaction: one created since is refused the same.
 */
export async function remove(
  ctx: ApiContext,
  name: string,
  options: { cascade?: boolean } = {},
): Promise<RemoveResult & { url: string }> {
  const dataflow = await getDataflow(ctx.pool, name);
  const schema = warehouseSchemaName(dataflow.name);
  if (!options.cascade) {
    const dependents = await dependentsOfDataflowWarehouse(ctx.pool, { dataflowId: dataflow.id, schema });
    if (dependents.length > 0) throw dependentObjectsError(schema, dependents);
  }
  await endQuotaWait(ctx, dataflow);
  try {
    return await runToCompletion<RemoveResult>(
      ctx,
      name,
      'remove',
      'removeDataflow',
      options.cascade ? { cascade: true } : {},
    );
  } catch (err) {
    // Refused by the workflow: the same refusal as above, not a failed operation (nothing was removed).
    if (err instanceof OperationFailedError && err.failureType === FAILURE_TYPES.DependentObjects) {
      throw new DependentObjectsError(err.message);
    }
    throw err;
  }
}

/** Starts an operation that is quick by nature and waits for its result, with its Web UI link. */
async function runToCompletion<T>(
  ctx: ApiContext,
  name: string,
  operation: Operation,
  workflowType: string,
  /** What the workflow's input has besides the dataflow and the trigger, e.g. remove's `cascade`. */
  extra: Omit<RemoveInput, keyof OperationInput> = {},
): Promise<T & { url: string }> {
  const dataflow = await getDataflow(ctx.pool, name);
  const handle = await start(ctx, dataflow, operation, workflowType, {
    dataflow: dataflow.name,
    trigger: 'manual',
    ...extra,
  });
  const { url } = await started(ctx, handle);
  try {
    return { ...((await handle.result()) as T), url };
  } catch (err) {
    throw new OperationFailedError(err, url);
  }
}

/**
 * A run that only waits for Klaviyo's daily report quota gives way to a rollback or a removal: it is cancelled (its
 * staged version discarded, the live one kept, as any cancelled run) and followed to its end, so the operation can
 * start. Any other operation in progress is left to the busy check.
 */
async function endQuotaWait(ctx: ApiContext, dataflow: Dataflow): Promise<void> {
  const running = await runningInfo(ctx, dataflow);
  if (!running || running.operation !== 'runDataflow') return;
  const handle = ctx.temporal.workflow.getHandle(running.workflowId, running.runId);
  const progress = await handle.query<RunProgress>('progress').catch(() => null);
  if (progress?.phase !== 'waiting-for-quota') return;
  await handle.cancel();
  await handle.result().catch(() => undefined);
}

/**
 * Starts an operation workflow. Temporal refuses a second execution of the dataflow's workflow id
 * while one runs; runs started by a schedule have their own ids, so those are looked up too. The
 * workflows also take a lock in Postgres: that is the guarantee, these checks give the early, clear error.
 */
async function start(
  ctx: ApiContext,
  dataflow: Dataflow,
  operation: Operation,
  workflowType: string,
  input: RunInput | RemoveInput,
): Promise<WorkflowHandle> {
  const running = await runningInfo(ctx, dataflow);
  if (running)
    throw busyError(
      dataflow.name,
      running.operation,
      runUrl(ctx.settings.uiUrl, ctx.settings.namespace, running.workflowId, running.runId),
      running.attention,
    );
  try {
    return await ctx.temporal.workflow.start(workflowType, {
      taskQueue: TASK_QUEUE,
      workflowId: operationWorkflowId(dataflow.name),
      args: [input],
      typedSearchAttributes: [
        { key: DataflowNameKey, value: dataflow.name.toLowerCase() },
        { key: DataflowOperationKey, value: operation },
        { key: DataflowTriggerKey, value: input.trigger },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      // Another request won the race to start: name what it started, with a link that opens its run.
      const winner = await runningInfo(ctx, dataflow).catch(() => null);
      throw busyError(
        dataflow.name,
        winner?.operation ?? 'operation',
        runUrl(ctx.settings.uiUrl, ctx.settings.namespace, winner?.workflowId ?? err.workflowId, winner?.runId ?? ''),
      );
    }
    throw err;
  }
}

/** A workflow that ended badly, told in the words of its innermost failure, with the link to its page. */
export class OperationFailedError extends Error {
  readonly type = 'OperationFailed';
  /** The `type` of the failure that ended it, e.g. `DependentObjects`, when there is one. */
  readonly failureType: string | undefined;
  constructor(
    err: unknown,
    readonly url: string,
  ) {
    super(err instanceof WorkflowFailedError ? rootCauseMessage(err.cause ?? err) : rootCauseMessage(err));
    this.name = 'OperationFailedError';
    this.failureType = rootCauseType(err);
  }
}

export function busyError(name: string, operation: string, url: string, attention?: string): UserInputError {
  if (attention) {
    return new UserInputError(
      `Dataflow "${name}" is busy: its run needs attention (${attention}) (${url}). Re-read the failed tables with ` +
        `\`dataflow retry ${name}\`, or end the run with \`dataflow discard ${name}\`, then try again.`,
      'DataflowBusy',
    );
  }
  return new UserInputError(
    `Dataflow "${name}" is busy: ${operation === 'operation' ? 'another operation' : `a ${operation.replace('Dataflow', '')}`} is in progress (${url}). ` +
      `Wait for it to finish, or cancel it with \`dataflow cancel ${name}\`, then try again.`,
    'DataflowBusy',
  );
}

/**
 * A run whose tables failed for good and that now waits, its version kept: which tables and why, what to do,
 * and until when. Reported like a failed operation (exit status 3), with the run's Web UI link.
 */
export class RunNeedsAttentionError extends Error {
  readonly type = 'NeedsAttention';
  constructor(
    readonly progress: RunProgress,
    readonly url: string,
  ) {
    const name = progress.dataflow;
    super(
      `The run of ${name} needs attention: ${failedTablesText(progress)}. Version ${progress.version} is kept: ` +
        `re-read the failed tables with \`dataflow retry ${name}\`, or end the run with \`dataflow discard ${name}\`` +
        (progress.attention ? `; it is discarded by itself at ${progress.attention.discardAt}.` : '.'),
    );
    this.name = 'RunNeedsAttentionError';
  }
}
