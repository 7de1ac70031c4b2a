/** How runs go: live progress of the one in flight (with retries in words), the operation running, the history. */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { getDataflow } from '../../control-plane/dataflows';
import { DataflowNotFoundError } from '../../control-plane/errors';
import type { RunProgress } from '../../shared/operations';
import { listRuns, type RunRecord } from '../run-history';
import { runningInfo, started, type ApiContext, type StartedOperation } from './context';

/** Live progress of a run: the workflow's table states plus the heartbeats of tables in flight. */
export interface LiveProgress extends RunProgress {
  status: string;
  tables: Array<
    RunProgress['tables'][number] & {
      /** Set while the table's extraction is retried, e.g. `Klaviyo 503 (…), attempt 3/5, next in 8 s`. */
      retrying?: string;
    }
  >;
}

/** What Temporal tells of one pending activity that {@link retryingText} reads. */
export interface PendingAttempt {
  attempt?: number | null;
  maximumAttempts?: number | null;
  lastFailure?: { message?: string | null; cause?: unknown } | null;
  nextAttemptScheduleTime?: { seconds?: number | { toNumber(): number } | null } | null;
}

/**
 * A retried activity in words: the reason of its last failure, the attempt it is at, and when the next
 * one starts (`next in 8 s` while it waits, nothing while an attempt runs). Undefined on the first attempt.
 */
export function retryingText(activity: PendingAttempt, now = Date.now()): string | undefined {
  const attempt = activity.attempt ?? 1;
  if (attempt <= 1 && !activity.lastFailure) return undefined;
  let failure: { message?: string | null; cause?: unknown } | null | undefined = activity.lastFailure;
  while (failure?.cause && typeof failure.cause === 'object') failure = failure.cause as typeof failure;
  const message = (failure?.message ?? 'failed').split(/(?<=\.)\s/)[0].replace(/\.$/, '');
  const reason = message.length > 80 ? `${message.slice(0, 79)}…` : message;
  const of = activity.maximumAttempts ? `/${activity.maximumAttempts}` : '';
  const seconds = activity.nextAttemptScheduleTime?.seconds;
  const at =
    seconds === null || seconds === undefined ? null : typeof seconds === 'number' ? seconds : seconds.toNumber();
  const wait = at === null ? '' : `, next in ${Math.max(0, Math.round(at - now / 1000))} s`;
  return `${reason}, attempt ${attempt}${of}${wait}`;
}

/**
 * The workflow's table states, with live rows/pages from the heartbeats of tables being extracted and,
 * for a table whose extraction is being retried, why and when (`retrying`).
 */
export async function progress(handle: WorkflowHandle): Promise<LiveProgress> {
  const [state, description] = await Promise.all([handle.query<RunProgress>('progress'), handle.describe()]);
  const live = new Map<string, { rows: number; pages: number; retrying?: string }>();
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    const details = defaultPayloadConverter.fromPayload<{
      table?: string;
      rows?: number;
      pages?: number;
      retrying?: string;
    }>(payload);
    if (!details?.table) continue;
    // The client's own retries of a page (heartbeated), else Temporal's retries of the whole activity.
    const retrying = details.retrying ?? retryingText(activity);
    live.set(details.table, {
      rows: details.rows ?? 0,
      pages: details.pages ?? 0,
      ...(retrying ? { retrying } : {}),
    });
  }
  return {
    ...state,
    status: description.status.name,
    tables: state.tables.map((t) => (t.state === 'running' && live.has(t.table) ? { ...t, ...live.get(t.table) } : t)),
  };
}

/** The operation in flight on a dataflow, if any, with its Web UI link. */
export async function running(
  ctx: ApiContext,
  name: string,
): Promise<(StartedOperation & { operation: string }) | null> {
  const dataflow = await getDataflow(ctx.pool, name);
  const running = await runningInfo(ctx, dataflow);
  if (!running) return null;
  const operation = running.operation.replace(/Dataflow$/, '');
  return { ...(await started(ctx, ctx.temporal.workflow.getHandle(running.workflowId), running.runId)), operation };
}

/** Live progress of the run in flight on a dataflow; null when no run is in flight. */
export async function runProgress(ctx: ApiContext, name: string): Promise<(LiveProgress & { url: string }) | null> {
  const inFlight = await running(ctx, name);
  if (!inFlight || inFlight.operation !== 'run') return null;
  const live = await progress(ctx.temporal.workflow.getHandle(inFlight.workflowId, inFlight.runId));
  return { ...live, url: inFlight.url };
}

export async function history(ctx: ApiContext, name: string, limit = 50): Promise<RunRecord[]> {
  // A removed dataflow keeps its history in Temporal: look it up by name even when the row is gone.
  const dataflow = await getDataflow(ctx.pool, name).catch((err: unknown) => {
    if (err instanceof DataflowNotFoundError) return null;
    throw err;
  });
  // Only the runs of the dataflow that has the name now, not those of a removed one of the same name.
  const runs = await listRuns(
    ctx.temporal,
    dataflow?.name ?? name,
    { uiUrl: ctx.settings.uiUrl, namespace: ctx.settings.namespace },
    limit,
    dataflow?.createdAt,
  );
  if (!dataflow && runs.length === 0) throw new DataflowNotFoundError(name);
  return runs;
}
