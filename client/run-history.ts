import { WorkflowFailedError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import {
  failedTablesText,
  isReportQuotaWaitedNotice,
  reportQuotaWaitWords,
  rootCauseMessage,
  type RollbackResult,
  type RunProgress,
  type RunResult,
  type TableSummary,
} from '../shared/operations';
import { DataflowOperationKey, DataflowTriggerKey, DataflowVersionKey } from '../shared/search-attributes';

export interface RunRecord {
  workflowId: string;
  runId: string;
  operation: string;
  trigger: string;
  status: string;
  version: number | null;
  start: Date;
  end: Date | null;
  durationMs: number | null;
  /** Rows per table for a committed run. */
  tables: TableSummary[];
  /**
   * For a failed run: the innermost failure message, written for the user; for a run that needs attention
   * (`status` NEEDS_ATTENTION, still running), its failed tables and their errors.
   */
  error: string | null;
  /**
   * What happened in words when it is not a failure, e.g. `Skipped: a run was in progress.` for a scheduled run
   * that found the dataflow busy (its `status` is then `SKIPPED`), or `Rolled back from version 2 to 1.`
   */
  description: string | null;
  /** For a completed rollback: the version readers saw before it, and the one they see after it. */
  fromVersion?: number;
  toVersion?: number;
  url: string;
}

/** The Web UI page of one workflow execution. */
export function runUrl(uiUrl: string, namespace: string, workflowId: string, runId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/**
 * A dataflow's run history, newest first, read from Temporal's visibility store: every run, rollback and
 * remove of the dataflow is one workflow execution tagged with its name.
 */
export async function listRuns(
  temporal: Client,
  dataflow: string,
  ui: { uiUrl: string; namespace: string },
  limit = 50,
  /** Only executions started at or after this time: those of the dataflow of this name created then. */
  since?: Date,
): Promise<RunRecord[]> {
  const query =
    `DataflowName = '${dataflow.toLowerCase().replace(/'/g, '')}'` +
    (since ? ` AND StartTime >= '${since.toISOString()}'` : '');
  const records: RunRecord[] = [];
  for await (const info of temporal.workflow.list({ query })) {
    records.push(await toRecord(temporal, info, ui));
    if (records.length >= limit) break;
  }
  return records.sort((a, b) => b.start.getTime() - a.start.getTime());
}

async function toRecord(
  temporal: Client,
  listed: WorkflowExecutionInfo,
  ui: { uiUrl: string; namespace: string },
): Promise<RunRecord> {
  const handle = temporal.workflow.getHandle(listed.workflowId, listed.runId, { followRuns: false });
  // The list comes from Temporal's visibility store, which lags the workflow's own state: a run that has just ended
  // (a discard answered a moment ago) can still be listed as running. Its description is current.
  const info: Omit<WorkflowExecutionInfo, 'raw'> =
    listed.status.name === 'RUNNING' ? await handle.describe().catch(() => listed) : listed;
  const attributes = info.typedSearchAttributes;
  const record: RunRecord = {
    workflowId: info.workflowId,
    runId: info.runId,
    operation: attributes.get(DataflowOperationKey) ?? info.type,
    trigger: attributes.get(DataflowTriggerKey) ?? 'manual',
    status: info.status.name,
    version: attributes.get(DataflowVersionKey) ?? null,
    start: info.startTime,
    end: info.closeTime ?? null,
    durationMs: info.closeTime ? info.closeTime.getTime() - info.startTime.getTime() : null,
    tables: [],
    error: null,
    description: null,
    url: runUrl(ui.uiUrl, ui.namespace, info.workflowId, info.runId),
  };
  if (info.status.name === 'COMPLETED') {
    const result: unknown = await handle.result();
    if (isRunResult(result)) {
      record.tables = result.tables;
      // A run that waited for Klaviyo's daily report quota says so (the workflow noted each wait).
      const waits = result.notices.filter(isReportQuotaWaitedNotice);
      if (waits.length > 0) record.description = `${waits.join('; ')}.`;
      if (result.skipped) {
        record.status = 'SKIPPED';
        record.description = result.skipped;
        record.version = null;
      }
    } else if (isRollbackResult(result)) {
      record.fromVersion = result.fromVersion;
      record.toVersion = result.toVersion;
      record.version = result.toVersion;
      record.description = `Rolled back from version ${result.fromVersion} to ${result.toVersion}.`;
    }
  } else if (info.status.name === 'FAILED') {
    try {
      await handle.result();
    } catch (err) {
      record.error = err instanceof WorkflowFailedError ? rootCauseMessage(err.cause ?? err) : rootCauseMessage(err);
    }
  } else if (info.status.name === 'RUNNING' && record.operation === 'run') {
    const progress = await handle.query<RunProgress>('progress').catch(() => null);
    if (progress) {
      record.tables = progress.tables.map((t) => ({ table: t.table, rows: t.rows, pages: t.pages, bytes: 0 }));
      record.version = progress.version;
      // Still running in Temporal's eyes, but waiting on a person: say so, and why.
      if (progress.phase === 'needs-attention') {
        record.status = 'NEEDS_ATTENTION';
        record.error = `Needs attention: ${failedTablesText(progress)}.`;
      }
      // Running, but only waiting on Klaviyo's daily report quota: say until when.
      if (progress.quotaWait) {
        const words = reportQuotaWaitWords(progress.quotaWait.until);
        record.description = `${words.charAt(0).toUpperCase()}${words.slice(1)} (${progress.quotaWait.tables.join(', ')}).`;
      }
    }
  } else if (info.status.name === 'TERMINATED') {
    record.error = 'Terminated by an operator.';
  } else if (info.status.name === 'TIMED_OUT') {
    record.error = 'The run exceeded its time limit.';
  }
  return record;
}

function isRunResult(value: unknown): value is RunResult {
  return typeof value === 'object' && value !== null && Array.isArray((value as RunResult).tables);
}

function isRollbackResult(value: unknown): value is RollbackResult {
  const candidate = value as RollbackResult | null;
  return typeof candidate?.fromVersion === 'number' && typeof candidate.toVersion === 'number';
}

/** True when an execution tagged with this dataflow is running now. */
export async function runningOperation(temporal: Client, dataflow: string): Promise<WorkflowExecutionInfo | null> {
  const query = `DataflowName = '${dataflow.toLowerCase().replace(/'/g, '')}' AND ExecutionStatus = 'Running'`;
  for await (const info of temporal.workflow.list({ query })) return info;
  return null;
}
