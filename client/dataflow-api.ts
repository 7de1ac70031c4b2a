import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { Pool } from 'pg';
import { CATALOG, SELECTABLE_TABLES, findTable, type CatalogTable } from '../klaviyo/catalog';
import { selectedByDefault } from '../klaviyo/report-catalog';
import {
  checkReportSettings,
  getReportSettings,
  InvalidReportSettingError,
  setReportSettings,
  type ReportSettings,
} from '../control-plane/report-settings';
import { KlaviyoClient } from '../klaviyo/klaviyo-client';
import { missingScopes, readKlaviyoRateLimits } from '../activities/dataflow-activities';
import { migrateToLatest } from '../control-plane/migrate';
import { SecretBox } from '../control-plane/secret-box';
import { validateDataflowName, warehouseSchemaName } from '../control-plane/dataflow-name';
import { apiKeyHint, maskApiKey, validateApiKeyFormat } from '../secrets/api-key';
import {
  checkBaseUrl,
  createDataflow,
  getDataflow,
  getTables,
  listDataflows,
  loadApiKey,
  recordMissingScopes,
  updateDataflow,
  type Dataflow,
} from '../control-plane/dataflows';
import { listCommittedVersions } from '../control-plane/versions';
import { DataflowExistsError, DataflowNotFoundError } from '../control-plane/errors';
import type { DataflowTable, TableSelectionInput } from '../control-plane/table-selection';
import { DependentObjectsError } from '../warehouse/errors';
import { dependentObjectsError } from '../warehouse/dependent-objects';
import { dependentsOfDataflowWarehouse } from '../warehouse/warehouse-schema';
import { entities as warehouseEntities, previewEntity, type Entity, type EntityPreview } from '../warehouse/entities';
import { readConfig, TASK_QUEUE, type Config } from '../shared/config';
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
  type RetryRequest,
  type RollbackResult,
  type RunInput,
  type RunProgress,
  type RunResult,
  type Trigger,
} from '../shared/operations';
import { DataflowNameKey, DataflowOperationKey, DataflowTriggerKey } from '../shared/search-attributes';
import { resolveConnectionSettings, type ConnectionSettings } from '../shared/connection-settings';
import { connectionOptions, explainConnectionFailure, PLAIN_GRPC } from '../shared/temporal-connection';
import { listRuns, runningOperation, runUrl, type RunRecord } from './run-history';
import {
  deleteSchedule,
  describeSchedule,
  pauseSchedule,
  setSchedule,
  type ScheduleSpecInput,
  type ScheduleView,
} from '../shared/schedules';
import { UserInputError } from '../shared/user-input-error';
import { DELETION_SWEEPS, type DeletionSweep } from '../klaviyo/deletion-sweep';

/** One of {@link DELETION_SWEEPS}, or a UserInputError that lists them. */
function checkDeletionSweep(value: string): DeletionSweep {
  if ((DELETION_SWEEPS as readonly string[]).includes(value)) return value as DeletionSweep;
  throw new UserInputError(
    `The deletion sweep must be one of ${DELETION_SWEEPS.join(', ')}, not ${JSON.stringify(value)}: ` +
      'how often tables refreshed incrementally are checked for rows deleted in Klaviyo (cheap ones: every run).',
  );
}

export interface CreateDataflowInput {
  name: string;
  displayName?: string;
  description?: string;
  apiKey: string;
  /** @default 'https://a.klaviyo.com' */
  baseUrl?: string;
  /** Tables to import; @default every table the key can read */
  tables?: string[];
  /** `table.field` entries to leave out. */
  excludeFields?: string[];
  /** `table.field` entries: each table named gets exactly these fields (see {@link selectionFor}). */
  fields?: string[];
  /** `table.field` entries added to the default fields, e.g. `profiles.predictive_analytics`. */
  includeFields?: string[];
  /** Exactly these fields for each table named; see {@link SelectionChoice.tableFields}. */
  tableFields?: Record<string, string[]>;
  /** When tables refreshed incrementally are swept for deletions if not cheap: every-run, daily, weekly, off. @default daily */
  deletionSweep?: string;
  /** The metric campaign and flow reports count as conversions: an id or a name. @default the metric "Placed Order" */
  conversionMetric?: string;
  /** Days of attribution a refresh of the report tables re-reads (1–90). @default 5 */
  attributionWindowDays?: number;
}

export interface EditDataflowInput {
  displayName?: string;
  description?: string;
  apiKey?: string;
  baseUrl?: string;
  tables?: string[];
  excludeFields?: string[];
  fields?: string[];
  includeFields?: string[];
  tableFields?: Record<string, string[]>;
  deletionSweep?: string;
  conversionMetric?: string;
  attributionWindowDays?: number;
}

export interface DataflowListRow extends Dataflow {
  nextRun: Date | null;
  scheduleSpec: string | null;
  schedulePaused: boolean;
}

export interface TableRow {
  purpose: string;
  name: string;
  type: string;
  selected: boolean;
  fieldsSelected: number;
  fieldsTotal: number;
  /** Whether the dataflow's key can read the table, as recorded when the key was last validated. */
  readable: boolean;
  /** The scopes the key lacks for this table (empty when readable), e.g. `['profiles:read']`. */
  missingScopes: string[];
  /** The fields imported (empty when the table is not selected). */
  selectedFields: string[];
  availableFields: Array<{ name: string; type: string }>;
}

/** A dataflow after an edit; `changed` is false when the edit asked for nothing different (nothing was written). */
export type EditedDataflow = Dataflow & { changed: boolean };

export interface StartedOperation {
  workflowId: string;
  runId: string;
  url: string;
}

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

/** What Connect finds: the account, and per catalog table whether the key can read it and its default fields. */
export interface Discovery {
  accountId: string;
  /** The key as a person may see it (`pk_…abcd`). */
  apiKeyMask: string;
  tables: Array<{
    table: CatalogTable;
    readable: boolean;
    /** The scopes the key lacks for this table (empty when readable). */
    missingScopes: string[];
    /** Fields that move the table to a slower rate tier ({@link slowTierFields}). */
    slowTierFields: string[];
    /** The fields a new dataflow selects by default. */
    defaultFields: string[];
  }>;
}

/**
 * The typed API behind the `dataflow` CLI (and the tests): configuration in the control plane,
 * operations as Temporal workflows, history from Temporal's visibility store.
 */
export class DataflowApi {
  private constructor(
    readonly pool: Pool,
    readonly temporal: Client,
    private readonly connection: Connection,
    readonly settings: ConnectionSettings,
    private readonly secrets: SecretBox,
  ) {}

  static async connect(
    config: Config = readConfig(),
    settings = resolveConnectionSettings(config),
  ): Promise<DataflowApi> {
    await migrateToLatest(settings.databaseUrl);
    const pool = new Pool({ connectionString: settings.databaseUrl, max: 4 });
    pool.on('error', () => undefined); // an idle connection dropped by Postgres; the next query reconnects
    const security = settings.temporalSecurity ?? PLAIN_GRPC;
    let connection: Connection;
    try {
      connection = await Connection.connect({
        address: settings.temporalAddress,
        connectTimeout: '5s',
        ...connectionOptions(security),
      });
      // Connecting checks nothing the server demands of the caller (an API key, a namespace): one cheap call does.
      await connection.workflowService.describeNamespace({ namespace: settings.namespace });
    } catch (err) {
      await pool.end();
      const secured = Boolean(security.tls || security.apiKey);
      throw new UserInputError(
        (await explainConnectionFailure(settings.temporalAddress, security, err)) +
          (secured ? '' : ' Start the local stack with `npm run stack`, or set TEMPORAL_ADDRESS.'),
      );
    }
    const temporal = new Client({ connection, namespace: settings.namespace });
    return new DataflowApi(pool, temporal, connection, settings, await SecretBox.fromConfig(config));
  }

  async close(): Promise<void> {
    await this.connection.close();
    await this.pool.end();
  }

  // ---- configuration -------------------------------------------------------------------------

  /** Validates the name and the key against Klaviyo, discovers the readable tables, saves. */
  async create(input: CreateDataflowInput): Promise<Dataflow> {
    const name = await this.checkNewName(input.name);
    const apiKey = validateApiKeyFormat(input.apiKey);
    if (input.baseUrl !== undefined) checkBaseUrl(input.baseUrl);
    const deletionSweep = input.deletionSweep === undefined ? undefined : checkDeletionSweep(input.deletionSweep);
    const reportSettings = reportSettingsOf(input);
    const { accountId, readable, missing } = await this.discover(apiKey, input.baseUrl);
    const tables = withMissingScopes(selectionFor(readable, input), missing);
    const created = await createDataflow(this.pool, this.secrets, {
      name,
      displayName: input.displayName ?? name,
      description: input.description ?? '',
      apiKey,
      baseUrl: input.baseUrl,
      accountId,
      tables,
      deletionSweep,
    });
    if (Object.keys(reportSettings).length > 0) await setReportSettings(this.pool, created.id, reportSettings);
    return created;
  }

  /**
   * Changes what is given. A new key or host is proven against Klaviyo first; tables and fields are checked
   * against what the key (the new one, else the saved one) can read, in the words of {@link create}. An edit
   * that changes nothing writes nothing and returns `changed: false`.
   */
  async edit(name: string, input: EditDataflowInput): Promise<EditedDataflow> {
    const dataflow = await getDataflow(this.pool, name);
    const apiKey = input.apiKey === undefined ? undefined : validateApiKeyFormat(input.apiKey);
    const baseUrl = input.baseUrl === undefined ? undefined : checkBaseUrl(input.baseUrl);
    const deletionSweep = input.deletionSweep === undefined ? undefined : checkDeletionSweep(input.deletionSweep);
    const reportSettings = reportSettingsOf(input);
    const keyChanged = apiKey !== undefined && apiKey !== (await this.savedKey(dataflow));
    const hostChanged = baseUrl !== undefined && baseUrl !== dataflow.baseUrl;
    const fieldsChanged = Boolean(input.excludeFields || input.fields || input.includeFields || input.tableFields);
    const saved = await getTables(this.pool, dataflow.id);
    let accountId: string | null | undefined;
    let missing: Set<string> | undefined;
    if (keyChanged || hostChanged || ((input.tables || fieldsChanged) && saved.some((t) => t.missingScopes === null))) {
      // A new key or host is proven before it is saved; the saved one keeps working until then. A dataflow
      // saved before readability was recorded has its saved key asked once.
      const discovered = await this.discover(apiKey ?? (await this.savedKey(dataflow)), baseUrl ?? dataflow.baseUrl);
      if (keyChanged || hostChanged) accountId = discovered.accountId;
      missing = discovered.missing;
    }
    const lacking = missing ?? new Set(saved.flatMap((t) => t.missingScopes ?? []));
    const readable = SELECTABLE_TABLES.filter((t) => t.scopes.every((s) => !lacking.has(s)));
    const selectedNow = saved.filter((t) => t.selected).map((t) => t.table);
    let tables: TableSelectionInput[] | undefined;
    if (input.tables || fieldsChanged) {
      tables = withMissingScopes(selectionFor(readable, { ...input, tables: input.tables ?? selectedNow }), lacking);
    } else if (keyChanged || hostChanged) {
      // The same tables and fields, checked against what the new key can read.
      const tableFields = Object.fromEntries(saved.filter((t) => t.selected).map((t) => [t.table, t.selectedFields]));
      tables = withMissingScopes(selectionFor(readable, { tables: selectedNow, tableFields }), lacking);
    }
    const changes = {
      ...(input.displayName !== undefined && input.displayName !== dataflow.displayName
        ? { displayName: input.displayName }
        : {}),
      ...(input.description !== undefined && input.description !== dataflow.description
        ? { description: input.description }
        : {}),
      ...(keyChanged ? { apiKey } : {}),
      ...(hostChanged ? { baseUrl } : {}),
      ...(accountId !== undefined && accountId !== dataflow.accountId ? { accountId } : {}),
      ...(deletionSweep !== undefined && deletionSweep !== dataflow.deletionSweep ? { deletionSweep } : {}),
      ...(tables && !sameSelection(saved, tables) ? { tables } : {}),
    };
    const savedReports = await getReportSettings(this.pool, dataflow.id);
    const reportChanges = Object.fromEntries(
      Object.entries(reportSettings).filter(([key, value]) => savedReports[key as keyof ReportSettings] !== value),
    ) as Partial<ReportSettings>;
    const reportsChanged = Object.keys(reportChanges).length > 0;
    if (reportsChanged) await setReportSettings(this.pool, dataflow.id, reportChanges);
    const changed = Object.keys(changes).length > 0 || reportsChanged;
    const updated =
      Object.keys(changes).length > 0
        ? await updateDataflow(this.pool, this.secrets, dataflow.name, changes)
        : dataflow;
    // What the key lacks is recorded whenever the key was asked, without counting as a change.
    if (missing) await recordMissingScopes(this.pool, dataflow.id, missingByTable(missing));
    return { ...updated, changed };
  }

  async get(name: string): Promise<Dataflow> {
    return getDataflow(this.pool, name);
  }

  async tables(name: string): Promise<TableRow[]> {
    const dataflow = await getDataflow(this.pool, name);
    return (await getTables(this.pool, dataflow.id)).map((t: DataflowTable) => ({
      purpose: t.purpose,
      name: t.table,
      type: findTable(t.table)?.resourceType ?? '',
      selected: t.selected,
      fieldsSelected: t.selected ? t.selectedFields.length : 0,
      fieldsTotal: t.availableFields.length,
      readable: (t.missingScopes ?? []).length === 0,
      missingScopes: t.missingScopes ?? [],
      selectedFields: t.selected ? t.selectedFields : [],
      availableFields: t.availableFields.map((f) => ({ name: f.name, type: f.type })),
    }));
  }

  async list(): Promise<DataflowListRow[]> {
    const dataflows = await listDataflows(this.pool);
    return Promise.all(
      dataflows.map(async (d) => {
        const schedule = await describeSchedule(this.temporal, d.name);
        return {
          ...d,
          nextRun: schedule && !schedule.paused ? schedule.nextRun : null,
          scheduleSpec: schedule?.spec ?? null,
          schedulePaused: schedule?.paused ?? false,
        };
      }),
    );
  }

  async entities(name: string): Promise<Entity[]> {
    const dataflow = await getDataflow(this.pool, name);
    return warehouseEntities(this.pool, warehouseSchemaName(dataflow.name));
  }

  /**
   * Connect without saving: proves the key (and host) and tells, for every catalog table, whether the key can
   * read it (else the scopes it lacks) and which fields a new dataflow selects by default.
   */
  async connect(apiKey: string, baseUrl?: string): Promise<Discovery> {
    const key = validateApiKeyFormat(apiKey);
    if (baseUrl !== undefined) checkBaseUrl(baseUrl);
    return { ...(await this.discovery(key, baseUrl)), apiKeyMask: maskApiKey({ hint: apiKeyHint(key) }) };
  }

  /** Connect for an edit: a new key or host when given, else the saved ones. */
  async connectSaved(name: string, input: { apiKey?: string; baseUrl?: string } = {}): Promise<Discovery> {
    const dataflow = await getDataflow(this.pool, name);
    if (input.baseUrl !== undefined) checkBaseUrl(input.baseUrl);
    if (input.apiKey !== undefined) return this.connect(input.apiKey, input.baseUrl ?? dataflow.baseUrl);
    const saved = await this.discovery(await this.savedKey(dataflow), input.baseUrl ?? dataflow.baseUrl);
    return { ...saved, apiKeyMask: maskApiKey({ hint: dataflow.apiKeyHint }) };
  }

  private async discovery(apiKey: string, baseUrl?: string): Promise<Omit<Discovery, 'apiKeyMask'>> {
    const { accountId, readable, missing } = await this.discover(apiKey, baseUrl);
    const defaults = new Map(selectionFor(readable).map((t) => [t.table, new Set(t.fields)]));
    return {
      accountId,
      tables: SELECTABLE_TABLES.map((table) => {
        const lacking = table.scopes.filter((s) => missing.has(s));
        const slow = new Set(slowTierFields(table));
        return {
          table,
          readable: lacking.length === 0,
          missingScopes: lacking,
          slowTierFields: [...slow],
          defaultFields: table.fields
            .map((f) => f.name)
            .filter((f) => defaults.get(table.name)?.has(f) ?? !slow.has(f)),
        };
      }),
    };
  }

  /** The first rows (default 50) of one of the dataflow's tables, from the version readers see now. */
  async preview(name: string, table: string, limit = 50): Promise<EntityPreview> {
    const dataflow = await getDataflow(this.pool, name);
    const preview = await previewEntity(this.pool, warehouseSchemaName(dataflow.name), table, limit);
    if (!preview) {
      throw new UserInputError(
        `Dataflow "${dataflow.name}" has no committed table "${table}": run it first, or pick one of its entities.`,
        'EntityNotFound',
      );
    }
    return preview;
  }

  // ---- operations ----------------------------------------------------------------------------

  /** Starts a run; `trigger` is what the history shows. */
  async run(name: string, options: { full?: boolean; trigger?: Trigger } = {}): Promise<StartedOperation> {
    const dataflow = await getDataflow(this.pool, name);
    const input: RunInput = {
      dataflow: dataflow.name,
      trigger: options.trigger ?? 'manual',
      full: options.full ?? false,
    };
    const handle = await this.start(dataflow, 'run', 'runDataflow', input);
    return this.started(handle);
  }

  /** Waits for a run, reporting live progress about once a second; returns its result or throws its failure in words. */
  /**
   * A run that comes to need attention ends the wait with {@link RunNeedsAttentionError} (its version is kept;
   * the error says what to do), except a wait up to `afterRound`: the one a {@link retry} has just answered.
   */
  async waitForRun(
    started: StartedOperation,
    onProgress?: (progress: LiveProgress) => void,
    options: { afterRound?: number } = {},
  ): Promise<RunResult> {
    const handle = this.temporal.workflow.getHandle(started.workflowId, started.runId);
    // The long poll for the result is cancelled when the wait ends without it (a run that needs attention): left
    // pending, its gRPC retry would fire after the CLI closed the connection and crash the process.
    const stopWaiting = new AbortController();
    const result = this.connection.withAbortSignal(stopWaiting.signal, () => handle.result()) as Promise<RunResult>;
    let settled = false;
    const ended = result.then(
      () => (settled = true),
      () => (settled = true),
    );
    try {
      while (!settled) {
        // The query alone when nobody watches: it tells a run that waits for attention from one that runs.
        const asked = onProgress ? this.progress(handle) : handle.query<RunProgress>('progress');
        const progress = await Promise.race([asked.catch(() => null), ended.then(() => null)]);
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
    }
    try {
      return await result;
    } catch (err) {
      throw new OperationFailedError(err, started.url);
    }
  }

  /**
   * The workflow's table states, with live rows/pages from the heartbeats of tables being extracted and,
   * for a table whose extraction is being retried, why and when (`retrying`).
   */
  async progress(handle: WorkflowHandle): Promise<LiveProgress> {
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
      tables: state.tables.map((t) =>
        t.state === 'running' && live.has(t.table) ? { ...t, ...live.get(t.table) } : t,
      ),
    };
  }

  /** The operation in flight on a dataflow, if any, with its Web UI link. */
  async running(name: string): Promise<(StartedOperation & { operation: string }) | null> {
    const dataflow = await getDataflow(this.pool, name);
    const running = await this.runningInfo(dataflow);
    if (!running) return null;
    const operation = running.operation.replace(/Dataflow$/, '');
    return { ...(await this.started(this.temporal.workflow.getHandle(running.workflowId), running.runId)), operation };
  }

  /** Live progress of the run in flight on a dataflow; null when no run is in flight. */
  async runProgress(name: string): Promise<(LiveProgress & { url: string }) | null> {
    const running = await this.running(name);
    if (!running || running.operation !== 'run') return null;
    const progress = await this.progress(this.temporal.workflow.getHandle(running.workflowId, running.runId));
    return { ...progress, url: running.url };
  }

  async cancel(name: string): Promise<StartedOperation> {
    const dataflow = await getDataflow(this.pool, name);
    const running = await this.runningInfo(dataflow);
    if (!running) throw new UserInputError(`Dataflow "${dataflow.name}" has no operation in progress to cancel.`);
    const handle = this.temporal.workflow.getHandle(running.workflowId, running.runId);
    await handle.cancel();
    return this.started(handle, running.runId);
  }

  /**
   * Extracts the failed tables of the run that needs attention (or only `tables`, which must be among them) again
   * into its kept version, which is committed once no table has failed. Returns at once; follow the run with
   * {@link waitForRun} and `afterRound: round`. Refused (`NothingWaiting`) when no run of the dataflow waits.
   */
  async retry(
    name: string,
    tables: string[] = [],
  ): Promise<StartedOperation & { tables: string[]; version: number | null; round: number }> {
    const { dataflow, handle, progress, runId } = await this.waitingRun(name, 'retry');
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
    await this.signalWaiting(dataflow, handle, 'retry', named.length > 0 ? { tables: named } : {});
    return {
      ...(await this.started(handle, runId)),
      tables: named.length > 0 ? named : failed,
      version: progress.version,
      round: progress.attention?.round ?? 1,
    };
  }

  /**
   * Ends the run that needs attention as a failed run ends: its staged version is discarded, the live one stays,
   * and the history shows the table's error. Waits for the run to end (a few seconds).
   */
  async discard(name: string): Promise<StartedOperation & { version: number | null; error: string }> {
    const { dataflow, handle, progress, runId } = await this.waitingRun(name, 'discard');
    await this.signalWaiting(dataflow, handle, 'discard');
    const error = await handle.result().then(
      () => '',
      (err: unknown) =>
        err instanceof WorkflowFailedError ? rootCauseMessage(err.cause ?? err) : rootCauseMessage(err),
    );
    return { ...(await this.started(handle, runId)), version: progress.version, error };
  }

  /** The run of the dataflow that needs attention now, or a refusal that says what is going on instead. */
  private async waitingRun(
    name: string,
    action: 'retry' | 'discard',
  ): Promise<{ dataflow: Dataflow; handle: WorkflowHandle; progress: RunProgress; runId: string }> {
    const dataflow = await getDataflow(this.pool, name);
    const running = await this.runningInfo(dataflow);
    const progress =
      running?.operation === 'runDataflow'
        ? await this.temporal.workflow
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
    const handle = this.temporal.workflow.getHandle(running.workflowId, running.runId);
    return { dataflow, handle, progress, runId: running.runId };
  }

  /** Sends retry or discard; a run that ended in between (its wait ran out) is said so. */
  private async signalWaiting(
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

  /**
   * Brings every table back to the previous committed version. Refused before anything starts
   * (`NothingToRollBack`) when the control plane keeps no earlier committed version.
   */
  async rollback(name: string): Promise<RollbackResult & { url: string }> {
    const dataflow = await getDataflow(this.pool, name);
    await this.endQuotaWait(dataflow);
    // Busy first: the run in progress may be about to give it something to roll back to.
    const running = await this.runningInfo(dataflow);
    if (running) {
      throw busyError(
        dataflow.name,
        running.operation,
        runUrl(this.settings.uiUrl, this.settings.namespace, running.workflowId, running.runId),
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
    const committed = await listCommittedVersions(this.pool, dataflow.id);
    if (!committed.some((v) => v < current)) {
      throw new UserInputError(
        `Dataflow "${dataflow.name}" shows version ${current} and keeps no earlier committed version: nothing to roll back to.`,
        'NothingToRollBack',
      );
    }
    return this.runToCompletion<RollbackResult>(name, 'rollback', 'rollbackDataflow');
  }

  /**
   * Removes the dataflow, its schedule and what it created in the warehouse. Objects others built on its tables
   * (or put in its schema) refuse it before anything starts, by name (`DependentObjects`), unless `cascade`, which
   * drops them too. The workflow checks again as it drops, in one transaction: one created since is refused the same.
   */
  async remove(name: string, options: { cascade?: boolean } = {}): Promise<RemoveResult & { url: string }> {
    const dataflow = await getDataflow(this.pool, name);
    const schema = warehouseSchemaName(dataflow.name);
    if (!options.cascade) {
      const dependents = await dependentsOfDataflowWarehouse(this.pool, { dataflowId: dataflow.id, schema });
      if (dependents.length > 0) throw dependentObjectsError(schema, dependents);
    }
    await this.endQuotaWait(dataflow);
    try {
      return await this.runToCompletion<RemoveResult>(
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
  private async runToCompletion<T>(
    name: string,
    operation: Operation,
    workflowType: string,
    /** What the workflow's input has besides the dataflow and the trigger, e.g. remove's `cascade`. */
    extra: Omit<RemoveInput, keyof OperationInput> = {},
  ): Promise<T & { url: string }> {
    const dataflow = await getDataflow(this.pool, name);
    const handle = await this.start(dataflow, operation, workflowType, {
      dataflow: dataflow.name,
      trigger: 'manual',
      ...extra,
    });
    const { url } = await this.started(handle);
    try {
      return { ...((await handle.result()) as T), url };
    } catch (err) {
      throw new OperationFailedError(err, url);
    }
  }

  async history(name: string, limit = 50): Promise<RunRecord[]> {
    // A removed dataflow keeps its history in Temporal: look it up by name even when the row is gone.
    const dataflow = await getDataflow(this.pool, name).catch((err: unknown) => {
      if (err instanceof DataflowNotFoundError) return null;
      throw err;
    });
    // Only the runs of the dataflow that has the name now, not those of a removed one of the same name.
    const runs = await listRuns(this.temporal, dataflow?.name ?? name, this.ui(), limit, dataflow?.createdAt);
    if (!dataflow && runs.length === 0) throw new DataflowNotFoundError(name);
    return runs;
  }

  // ---- schedules -----------------------------------------------------------------------------

  async schedule(name: string, spec: ScheduleSpecInput): Promise<ScheduleView> {
    const dataflow = await getDataflow(this.pool, name);
    const view = await setSchedule(this.temporal, dataflow.name, spec);
    await updateDataflow(this.pool, this.secrets, dataflow.name, { schedule: view.spec });
    return view;
  }

  /** The dataflow's schedule as Temporal has it now, or null. */
  async scheduleOf(name: string): Promise<ScheduleView | null> {
    const dataflow = await getDataflow(this.pool, name);
    return describeSchedule(this.temporal, dataflow.name);
  }

  async pauseSchedule(name: string, pause: boolean): Promise<void> {
    const dataflow = await getDataflow(this.pool, name);
    await pauseSchedule(this.temporal, dataflow.name, pause);
  }

  async deleteSchedule(name: string): Promise<boolean> {
    const dataflow = await getDataflow(this.pool, name);
    const deleted = await deleteSchedule(this.temporal, dataflow.name);
    await updateDataflow(this.pool, this.secrets, dataflow.name, { schedule: null });
    return deleted;
  }

  // ---- internals -----------------------------------------------------------------------------

  private ui() {
    return { uiUrl: this.settings.uiUrl, namespace: this.settings.namespace };
  }

  private async started(handle: WorkflowHandle, runId?: string): Promise<StartedOperation> {
    const first = 'firstExecutionRunId' in handle ? (handle.firstExecutionRunId as string) : undefined;
    const id = runId ?? first ?? (await handle.describe()).runId;
    return {
      workflowId: handle.workflowId,
      runId: id,
      url: runUrl(this.settings.uiUrl, this.settings.namespace, handle.workflowId, id),
    };
  }

  /**
   * A run that only waits for Klaviyo's daily report quota gives way to a rollback or a removal: it is cancelled (its
   * staged version discarded, the live one kept, as any cancelled run) and followed to its end, so the operation can
   * start. Any other operation in progress is left to the busy check.
   */
  private async endQuotaWait(dataflow: Dataflow): Promise<void> {
    const running = await this.runningInfo(dataflow);
    if (!running || running.operation !== 'runDataflow') return;
    const handle = this.temporal.workflow.getHandle(running.workflowId, running.runId);
    const progress = await handle.query<RunProgress>('progress').catch(() => null);
    if (progress?.phase !== 'waiting-for-quota') return;
    await handle.cancel();
    await handle.result().catch(() => undefined);
  }

  private async runningInfo(
    dataflow: Dataflow,
  ): Promise<{ workflowId: string; runId: string; operation: string; attention?: string } | null> {
    // The on-demand id first (visibility may lag a just-started run), then anything tagged with the name.
    let found: { workflowId: string; runId: string; operation: string } | null = null;
    try {
      const description = await this.temporal.workflow.getHandle(operationWorkflowId(dataflow.name)).describe();
      if (description.status.name === 'RUNNING') {
        found = { workflowId: description.workflowId, runId: description.runId, operation: description.type };
      }
    } catch {
      // never started: fall through
    }
    if (!found) {
      const info = await runningOperation(this.temporal, dataflow.name);
      found = info ? { workflowId: info.workflowId, runId: info.runId, operation: info.type } : null;
    }
    if (found?.operation !== 'runDataflow') return found;
    // A run waiting on failed tables is told apart: the way out is retry or discard, not waiting.
    const progress = await this.temporal.workflow
      .getHandle(found.workflowId, found.runId)
      .query<RunProgress>('progress')
      .catch(() => null);
    return progress?.phase === 'needs-attention' ? { ...found, attention: failedTablesText(progress) } : found;
  }

  /**
   * Starts an operation workflow. Temporal refuses a second execution of the dataflow's workflow id
   * while one runs; runs started by a schedule have their own ids, so those are looked up too. The
   * workflows also take a lock in Postgres: that is the guarantee, these checks give the early, clear error.
   */
  private async start(
    dataflow: Dataflow,
    operation: Operation,
    workflowType: string,
    input: RunInput | RemoveInput,
  ): Promise<WorkflowHandle> {
    const running = await this.runningInfo(dataflow);
    if (running)
      throw busyError(
        dataflow.name,
        running.operation,
        runUrl(this.settings.uiUrl, this.settings.namespace, running.workflowId, running.runId),
        running.attention,
      );
    try {
      return await this.temporal.workflow.start(workflowType, {
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
        const winner = await this.runningInfo(dataflow).catch(() => null);
        throw busyError(
          dataflow.name,
          winner?.operation ?? 'operation',
          runUrl(
            this.settings.uiUrl,
            this.settings.namespace,
            winner?.workflowId ?? err.workflowId,
            winner?.runId ?? '',
          ),
        );
      }
      throw err;
    }
  }

  /** The name rule and uniqueness (case-insensitive), as create applies them; returns the name to save. */
  async checkNewName(input: string): Promise<string> {
    const name = validateDataflowName(input);
    await this.assertNameFree(name);
    return name;
  }

  private async assertNameFree(name: string): Promise<void> {
    try {
      const existing = await getDataflow(this.pool, name);
      throw new DataflowExistsError(existing.name);
    } catch (err) {
      if (!(err instanceof DataflowNotFoundError)) throw err;
    }
  }

  private async savedKey(dataflow: Dataflow): Promise<string> {
    return loadApiKey(this.pool, this.secrets, dataflow.id);
  }

  /** Proves the key and finds the tables it can read (a table is readable when every scope it needs is granted). */
  private async discover(
    apiKey: string,
    baseUrl?: string,
  ): Promise<{ accountId: string; readable: CatalogTable[]; missing: Set<string> }> {
    const client = new KlaviyoClient({ apiKey, baseUrl, rateLimits: readKlaviyoRateLimits() });
    try {
      const { missing, accountId } = await missingScopes(client, CATALOG);
      const readable = SELECTABLE_TABLES.filter((t) => t.scopes.every((s) => !missing.has(s)));
      return { accountId: accountId ?? client.accountKey, readable, missing };
    } finally {
      client.close();
    }
  }
}

/** The report settings given (checked), in the user's words when out of range. */
function reportSettingsOf(input: {
  conversionMetric?: string;
  attributionWindowDays?: number;
}): Partial<ReportSettings> {
  const given: Partial<ReportSettings> = {
    ...(input.conversionMetric !== undefined ? { conversionMetric: input.conversionMetric } : {}),
    ...(input.attributionWindowDays !== undefined ? { attributionWindowDays: input.attributionWindowDays } : {}),
  };
  try {
    return checkReportSettings(given);
  } catch (err) {
    if (err instanceof InvalidReportSettingError) throw new UserInputError(err.message, err.type);
    throw err;
  }
}

/** The selection with, per table, the scopes the key lacks to read it. */
function withMissingScopes(tables: TableSelectionInput[], missing: ReadonlySet<string>): TableSelectionInput[] {
  return tables.map((t) => ({ ...t, missingScopes: (findTable(t.table)?.scopes ?? []).filter((s) => missing.has(s)) }));
}

function missingByTable(missing: ReadonlySet<string>): Map<string, string[]> {
  return new Map(SELECTABLE_TABLES.map((t) => [t.name, t.scopes.filter((s) => missing.has(s))]));
}

/** Whether a new selection chooses the same tables and fields as the saved one. */
function sameSelection(saved: DataflowTable[], next: TableSelectionInput[]): boolean {
  const byName = new Map(saved.map((t) => [t.table, t]));
  const sameList = (a: readonly string[] | null | undefined, b: readonly string[] | null | undefined) =>
    a !== null && a !== undefined && b !== null && b !== undefined && [...a].sort().join() === [...b].sort().join();
  return (
    next.length === saved.length &&
    next.every((t) => {
      const before = byName.get(t.table);
      return (
        before !== undefined &&
        before.selected === (t.selected ?? true) &&
        (!before.selected || sameList(before.selectedFields, t.fields))
      );
    })
  );
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

function busyError(name: string, operation: string, url: string, attention?: string): UserInputError {
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

/** What create/edit say about tables and fields; every `…Fields` entry is a `table.field` pair. */
export interface SelectionChoice {
  /** @default every readable table */
  tables?: string[];
  excludeFields?: string[];
  fields?: string[];
  includeFields?: string[];
  /** Exactly these fields for each table named (an empty list is allowed), e.g. from the console's picker. */
  tableFields?: Record<string, string[]>;
}

/**
 * Fields whose selection moves a table to a slower rate tier: those a catalog `tierVariants[].when`
 * names, e.g. `additional-fields[profile]=predictive_analytics` (profiles drop from tier L to M).
 */
export function slowTierFields(table: CatalogTable): string[] {
  const named = new Set(table.tierVariants.flatMap((v) => (v.when.split('=')[1] ?? '').split(',')));
  return table.fields.map((f) => f.name).filter((f) => named.has(f));
}

/**
 * The table selection for create/edit. Tables: `tables` (default: all readable). Fields of a table:
 * exactly those `fields` names for it when it names any, else the defaults, which are every field except
 * the slow-tier ones ({@link slowTierFields}: reading profiles with `predictive_analytics` costs a slower
 * tier, so it is opt-in through `includeFields` or `fields`); then `includeFields` are added and
 * `excludeFields` taken away. Unknown or unreadable names are errors that say what is known.
 */
export function selectionFor(readable: CatalogTable[], choice: SelectionChoice = {}): TableSelectionInput[] {
  const { tables, excludeFields } = choice;
  const readableNames = new Set(readable.map((t) => t.name));
  // Report tables spend Klaviyo's daily report quota: selected only by name.
  const wanted = tables && tables.length > 0 ? tables : readable.filter(selectedByDefault).map((t) => t.name);
  for (const name of wanted) {
    const table = findTable(name);
    if (!table) {
      throw new UserInputError(
        `Unknown table "${name}". Known tables: ${SELECTABLE_TABLES.map((t) => t.name).join(', ')}.`,
      );
    }
    if (!readableNames.has(name)) {
      throw new UserInputError(
        `The API key cannot read the table "${name}": it needs the scope${table.scopes.length > 1 ? 's' : ''} ${table.scopes.join(', ')}.`,
      );
    }
  }
  const fieldPairs = (entries: string[] | undefined) => {
    const byTable = new Map<string, Set<string>>();
    for (const entry of entries ?? []) {
      const [table, field] = parseFieldPair(entry, wanted);
      byTable.set(table, (byTable.get(table) ?? new Set()).add(field));
    }
    return byTable;
  };
  const excluded = fieldPairs(excludeFields);
  const exact = fieldPairs(choice.fields);
  // A per-table list (the console's field picker) may be empty: a table read for its ids alone.
  for (const [table, fields] of Object.entries(choice.tableFields ?? {})) {
    for (const field of fields) parseFieldPair(`${table}.${field}`, wanted);
    if (!wanted.includes(table)) throw new UserInputError(`Fields were given for "${table}", which is not selected.`);
    exact.set(table, new Set(fields));
  }
  const included = fieldPairs(choice.includeFields);
  const wantedSet = new Set(wanted);
  return SELECTABLE_TABLES.map((t) => {
    const slow = new Set(slowTierFields(t));
    const chosen = exact.get(t.name);
    return {
      table: t.name,
      selected: wantedSet.has(t.name),
      fields: t.fields
        .map((f) => f.name)
        .filter((f) => (chosen ? chosen.has(f) : !slow.has(f)) || included.get(t.name)?.has(f))
        .filter((f) => !excluded.get(t.name)?.has(f)),
    };
  });
}

/** `table.field` → [table, field], checked against the catalog and the selected tables. */
function parseFieldPair(entry: string, wanted: readonly string[]): [string, string] {
  const [table, field, ...rest] = entry.split('.');
  const catalogTable = findTable(table);
  if (!catalogTable || !field || rest.length > 0) {
    throw new UserInputError(`"${entry}" is not a table.field pair of a known table (e.g. profiles.phone_number).`);
  }
  if (!catalogTable.fields.some((f) => f.name === field)) {
    throw new UserInputError(
      `The table "${table}" has no field "${field}"; its fields are: ${catalogTable.fields.map((f) => f.name).join(', ')}.`,
    );
  }
  if (!wanted.includes(table))
    throw new UserInputError(`"${entry}" names the table "${table}", which is not selected.`);
  return [table, field];
}
