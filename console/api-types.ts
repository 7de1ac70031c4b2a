/**
 * The JSON the console's API answers with, shared by the server (`console/server/`) and the web app
 * (`console/web/`). Types only: the web bundle imports nothing else from the server side.
 * Dates travel as ISO 8601 strings in UTC; the web app shows them in the user's local time.
 */
import type { DataflowSummary } from '../client/dataflow-summary';
import type { RunRecord } from '../client/run-history';
import type { TableSummary } from '../shared/operations';

/** A server-side shape as it travels in JSON: its dates become ISO 8601 strings. */
type AsJson<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };

/** Every error: `{ error: { code, message, url? } }`, with an HTTP status that fits the code. */
export interface ApiErrorBody {
  error: {
    /** Stable, e.g. `InvalidDataflowName`, `DataflowExists`, `DataflowNotFound`, `DataflowBusy`, `KlaviyoInvalidApiKey`. */
    code: string;
    /** The same words the CLI prints. */
    message: string;
    /** The Temporal Web UI page of a failed operation, when there is one. */
    url?: string;
    /** For a request that failed validation: which input was wrong. */
    field?: string;
  };
}

export interface SessionInfo {
  /** True when the console was started with DATAFLOW_CONSOLE_TOKEN. */
  authRequired: boolean;
  temporalUiUrl: string;
  namespace: string;
}

export interface ConnectorInfo {
  type: 'Klaviyo';
  name: string;
  /** The chooser's tabs other than All. */
  categories: string[];
  description: string;
}

export interface NameCheck {
  ok: boolean;
  /** The rule's words (or the uniqueness clash) when not ok. */
  message?: string;
  code?: string;
}

export interface FieldInfo {
  name: string;
  /** Postgres column type: text, numeric, bigint, boolean, timestamptz, jsonb. */
  type: string;
  /** Selecting it moves the table to a slower Klaviyo rate tier: unticked by default. */
  slowTier: boolean;
  /** Whether a new dataflow ticks it by default. */
  defaultSelected: boolean;
}

/** A table as Connect discovers it, before anything is saved. */
export interface DiscoveredTable {
  name: string;
  purpose: 'Data' | 'Metadata';
  /** Klaviyo's resource type, e.g. `profile`. */
  type: string;
  readable: boolean;
  /** Whether a new dataflow selects it by default (report tables, which spend Klaviyo's daily quota, are not). */
  selectedByDefault: boolean;
  /** The scopes the key lacks to read it (empty when readable). */
  missingScopes: string[];
  fields: FieldInfo[];
}

export interface ConnectResult {
  accountId: string;
  /** The key as the console may show it, e.g. `pk_…abcd`. */
  apiKeyMask: string;
  tables: DiscoveredTable[];
}

/** A dataflow's table as saved: the choice plus what discovery found. */
export interface SavedTable extends DiscoveredTable {
  selected: boolean;
  selectedFields: string[];
}

/** A dataflow as the CLI's `--json` shows it (one shape, client/dataflow-summary.ts), dates as strings, with its schedule. */
export type DataflowView = AsJson<DataflowSummary> & { schedule: ScheduleView | null };

export interface ScheduleView {
  /** e.g. `every 6h` or `cron 0 * * * *`. */
  spec: string;
  paused: boolean;
  nextRun: string | null;
}

/** The table choice sent with create and edit: each table named is selected with exactly these fields. */
export interface TableChoice {
  name: string;
  fields: string[];
}

export interface CreateDataflowRequest {
  name: string;
  displayName?: string;
  description?: string;
  apiKey: string;
  baseUrl?: string;
  /** Omitted: every readable table with its default fields. */
  tables?: TableChoice[];
}

export interface EditDataflowRequest {
  displayName?: string;
  description?: string;
  /** A new key, validated before it is saved. */
  apiKey?: string;
  baseUrl?: string;
  tables?: TableChoice[];
}

export interface StartedOperation {
  workflowId: string;
  runId: string;
  url: string;
}

/** A retry of a run that needs attention, started: which tables, into which version, answering which wait. */
export interface RetryStarted extends StartedOperation {
  tables: string[];
  version: number | null;
  round: number;
}

/** A run that needed attention, ended on request: the version discarded and the failure the history shows. */
export interface DiscardResult extends StartedOperation {
  version: number | null;
  error: string;
}

export interface TableProgress {
  table: string;
  state: 'pending' | 'running' | 'done' | 'failed';
  rows: number;
  pages: number;
  error?: string;
  /** While Klaviyo is being retried, e.g. "Klaviyo 503, attempt 3/5, next in 8 s". */
  retrying?: string;
}

export interface RunProgressView {
  status: string;
  /** …, `extracting`, `needs-attention` (tables failed for good; the run waits for Retry or Discard), `committing`… */
  phase: string;
  version: number | null;
  tables: TableProgress[];
  url: string;
  /** While the run needs attention: since when, and when it discards by itself (ISO 8601). */
  attention?: { since: string; discardAt: string; round: number };
}

export interface DataflowListItem extends DataflowView {
  /** The operation in flight, if any, with its progress when it is a run. */
  running: { operation: string; url: string; progress: RunProgressView | null } | null;
}

/**
 * A run of the history as JSON: the CLI's {@link RunRecord} with its dates as strings, its tables' total `rows`, and
 * its `error` (the failure, in the user's words) as `description`.
 */
export type HistoryRecord = AsJson<Omit<RunRecord, 'tables' | 'error' | 'description'>> & {
  rows: number;
  tables: Array<Pick<TableSummary, 'table' | 'rows' | 'pages'>>;
  description: string | null;
};

export interface EntityView {
  table: string;
  view: string;
  rows: number;
  version: number | null;
}

export interface EntityPreview {
  table: string;
  version: number | null;
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

export type ScheduleRequest = { cron: string } | { every: string };
