/**
 * The contract between the CLI, the workflows and the activities: inputs, results and failure types.
 * Imported by workflow code, so nothing here may do I/O or pull in a module with side effects.
 */

export const OPERATIONS = ['run', 'rollback', 'remove'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const TRIGGERS = ['manual', 'schedule', 'retry'] as const;
export type Trigger = (typeof TRIGGERS)[number];

/**
 * Stable `type`s of the ApplicationFailures that cross Temporal; the CLI maps them to the words a user reads.
 * Whether one is retryable is said by the error that carries it, not here.
 */
export const FAILURE_TYPES = {
  DataflowNotFound: 'DataflowNotFound',
  DataflowBusy: 'DataflowBusy',
  InvalidApiKey: 'KlaviyoInvalidApiKey',
  MissingScope: 'KlaviyoMissingScope',
  BadRequest: 'KlaviyoBadRequest',
  NotFound: 'KlaviyoNotFound',
  Throttled: 'KlaviyoThrottled',
  ServerError: 'KlaviyoServerError',
  NetworkError: 'KlaviyoNetworkError',
  MalformedResponse: 'KlaviyoMalformedResponse',
  NothingToRollBack: 'NothingToRollBack',
  InvalidSelection: 'InvalidSelection',
  DependentObjects: 'DependentObjects',
} as const;
export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

export interface OperationInput {
  /** The dataflow's name, as saved (case-insensitive). Never the API key. */
  dataflow: string;
  trigger: Trigger;
}

export interface RunInput extends OperationInput {
  /** Re-read every table even where an incremental refresh is possible. @default false */
  full?: boolean;
}

/** The `retry` signal's argument: the failed tables to extract again; none named means every failed one. */
export interface RetryRequest {
  tables?: string[];
}

/** What the run knows of one table; small on purpose: no rows ever pass through Temporal. */
export interface TableSummary {
  table: string;
  /** Rows the table holds in the new version. */
  rows: number;
  pages: number;
  bytes: number;
  /**
   * Set when the table was refreshed incrementally: built from `fromVersion` plus the `rowsRead` rows
   * Klaviyo reported changed since `since` (ISO 8601).
   */
  incremental?: { fromVersion: number; since: string; rowsRead: number };
  /** Set when a deletion sweep ran: rows of `fromVersion` left out because Klaviyo no longer has them. */
  deleted?: number;
  /**
   * Set by a Reporting API table whose requests did not all fit in Klaviyo's daily report quota: the table is not
   * done, and its read goes on from this time (ISO 8601). The run waits for it (a Temporal timer).
   */
  quotaWaitUntil?: string;
  /** What the run should tell about this table, e.g. which conversion metric its reports counted. */
  notices?: string[];
}

/** How a run that waits for Klaviyo's daily report quota says so (progress, history, the Web UI, the list). */
export function reportQuotaWaitWords(until: string): string {
  return `waiting for Klaviyo's daily report quota until ${until}`;
}

const WAITED = "Waited for Klaviyo's daily report quota";

/** The run's notice of one such wait, which its history shows. */
export function reportQuotaWaitedNotice(until: string, tables: readonly string[]): string {
  return `${WAITED} until ${until} (${tables.join(', ')})`;
}

export function isReportQuotaWaitedNotice(notice: string): boolean {
  return notice.startsWith(WAITED);
}

export const TABLE_STATES = ['pending', 'running', 'done', 'failed'] as const;
export type TableState = (typeof TABLE_STATES)[number];

export interface RunProgress {
  dataflow: string;
  phase:
    | 'starting'
    | 'validating'
    | 'discovering'
    | 'extracting'
    | 'waiting-for-quota'
    | 'needs-attention'
    | 'committing'
    | 'discarding'
    | 'done';
  version: number | null;
  tables: Array<{ table: string; state: TableState; rows: number; pages: number; error?: string }>;
  /**
   * Set while the run keeps its staged version and waits for `retry` or `discard` because tables failed for
   * good: since when (ISO 8601), when it discards by itself, and which wait this is (1, then 2 after a retry…).
   */
  attention?: NeedsAttention;
  /** Set while the run waits for Klaviyo's daily report quota: until when (ISO 8601), and which tables wait. */
  quotaWait?: { until: string; tables: string[] };
}

export interface NeedsAttention {
  since: string;
  discardAt: string;
  round: number;
}

/** The failed tables of a run and their errors, in words: `"metrics": Klaviyo answered HTTP 400 …`. */
export function failedTablesText(progress: Pick<RunProgress, 'tables'>): string {
  return progress.tables
    .filter((t) => t.state === 'failed')
    .map((t) => `"${t.table}": ${t.error ?? 'failed'}`)
    .join('; ');
}

export interface RunResult {
  dataflow: string;
  version: number;
  tables: TableSummary[];
  /** Changes between the saved selection and what Klaviyo offers now, in words. */
  notices: string[];
  /**
   * Set when a scheduled run found another operation holding the dataflow and ended without doing
   * anything (`version` is then 0), e.g. `Skipped: a run was in progress.`
   */
  skipped?: string;
}

export interface RollbackResult {
  dataflow: string;
  fromVersion: number;
  toVersion: number;
}

export interface RemoveInput extends OperationInput {
  /**
   * Also drop the objects others built on the dataflow's tables or put in its schema (users' views); without it,
   * they refuse the removal. Optional so histories of removals started before it replay. @default false
   */
  cascade?: boolean;
}

export interface RemoveResult {
  dataflow: string;
  droppedTables: number;
  /** Objects the dataflow did not create that a cascade dropped with it, e.g. `view public.vip_profiles`. */
  droppedDependents?: string[];
}

/** Workflow ids: one per dataflow for on-demand operations, so Temporal itself refuses a second one. */
export function operationWorkflowId(dataflow: string): string {
  return `dataflow-${dataflow.toLowerCase()}`;
}

export function scheduleId(dataflow: string): string {
  return `dataflow-${dataflow.toLowerCase()}-schedule`;
}

/**
 * The innermost message of a failure chain: a workflow or activity failure wraps the ApplicationFailure
 * that says, in the user's words, what went wrong. Pure, so workflow code may use it too.
 */
export function rootCauseMessage(err: unknown): string {
  let current: unknown = err;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

/** The `type` of the innermost failure of a chain that has one (an ApplicationFailure's), e.g. `DependentObjects`. */
export function rootCauseType(err: unknown): string | undefined {
  let found: string | undefined;
  for (let current: unknown = err; current instanceof Error; current = current.cause) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') found = type;
  }
  return found;
}
