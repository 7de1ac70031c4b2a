/** Create and edit: the settings of a dataflow, checked (key, host, name, tables and fields, reports) and saved. */
import { SELECTABLE_TABLES } from '../../klaviyo/catalog';
import {
  checkReportSettings,
  getReportSettings,
  InvalidReportSettingError,
  setReportSettings,
  type ReportSettings,
} from '../../control-plane/report-settings';
import { validateApiKeyFormat } from '../../secrets/api-key';
import { checkBaseUrl } from '../../control-plane/dataflow-input';
import { getTables, recordMissingScopes } from '../../control-plane/dataflow-tables';
import { createDataflow, getDataflow, updateDataflow, type Dataflow } from '../../control-plane/dataflows';
import type { TableSelectionInput } from '../../control-plane/table-selection';
import { UserInputError } from '../../shared/user-input-error';
import { DELETION_SWEEPS, type DeletionSweep } from '../../klaviyo/deletion-sweep';
import { savedKey, type ApiContext } from './context';
import { checkNewName, discover } from './discovery';
import { missingByTable, sameSelection, selectionFor, withMissingScopes } from './selection';

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

/** What an edit may change: anything `create` takes but the name, each optional (a new key only when given). */
export type EditDataflowInput = Partial<Omit<CreateDataflowInput, 'name'>>;

/** A dataflow after an edit; `changed` is false when the edit asked for nothing different (nothing was written). */
export type EditedDataflow = Dataflow & { changed: boolean };

/** Validates the name and the key against Klaviyo, discovers the readable tables, saves. */
export async function create(ctx: ApiContext, input: CreateDataflowInput): Promise<Dataflow> {
  const name = await checkNewName(ctx, input.name);
  const apiKey = validateApiKeyFormat(input.apiKey);
  if (input.baseUrl !== undefined) checkBaseUrl(input.baseUrl);
  const deletionSweep = input.deletionSweep === undefined ? undefined : checkDeletionSweep(input.deletionSweep);
  const reportSettings = reportSettingsOf(input);
  const { accountId, readable, missing } = await discover(apiKey, input.baseUrl);
  const tables = withMissingScopes(selectionFor(readable, input), missing);
  const created = await createDataflow(ctx.pool, ctx.secrets, {
    name,
    displayName: input.displayName ?? name,
    description: input.description ?? '',
    apiKey,
    baseUrl: input.baseUrl,
    accountId,
    tables,
    deletionSweep,
  });
  if (Object.keys(reportSettings).length > 0) await setReportSettings(ctx.pool, created.id, reportSettings);
  return created;
}

/**
 * Changes what is given. A new key or host is proven against Klaviyo first; tables and fields are checked
 * against what the key (the new one, else the saved one) can read, in the words of {@link create}. An edit
 * that changes nothing writes nothing and returns `changed: false`.
 */
export async function edit(ctx: ApiContext, name: string, input: EditDataflowInput): Promise<EditedDataflow> {
  const dataflow = await getDataflow(ctx.pool, name);
  const apiKey = input.apiKey === undefined ? undefined : validateApiKeyFormat(input.apiKey);
  const baseUrl = input.baseUrl === undefined ? undefined : checkBaseUrl(input.baseUrl);
  const deletionSweep = input.deletionSweep === undefined ? undefined : checkDeletionSweep(input.deletionSweep);
  const reportSettings = reportSettingsOf(input);
  const keyChanged = apiKey !== undefined && apiKey !== (await savedKey(ctx, dataflow));
  const hostChanged = baseUrl !== undefined && baseUrl !== dataflow.baseUrl;
  const fieldsChanged = Boolean(input.excludeFields || input.fields || input.includeFields || input.tableFields);
  const saved = await getTables(ctx.pool, dataflow.id);
  let accountId: string | null | undefined;
  let missing: Set<string> | undefined;
  if (keyChanged || hostChanged || ((input.tables || fieldsChanged) && saved.some((t) => t.missingScopes === null))) {
    // A new key or host is proven before it is saved; the saved one keeps working until then. A dataflow
    // saved before readability was recorded has its saved key asked once.
    const discovered = await discover(apiKey ?? (await savedKey(ctx, dataflow)), baseUrl ?? dataflow.baseUrl);
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
  const savedReports = await getReportSettings(ctx.pool, dataflow.id);
  const reportChanges = Object.fromEntries(
    Object.entries(reportSettings).filter(([key, value]) => savedReports[key as keyof ReportSettings] !== value),
  ) as Partial<ReportSettings>;
  const reportsChanged = Object.keys(reportChanges).length > 0;
  if (reportsChanged) await setReportSettings(ctx.pool, dataflow.id, reportChanges);
  const changed = Object.keys(changes).length > 0 || reportsChanged;
  const updated =
    Object.keys(changes).length > 0 ? await updateDataflow(ctx.pool, ctx.secrets, dataflow.name, changes) : dataflow;
  // What the key lacks is recorded whenever the key was asked, without counting as a change.
  if (missing) await recordMissingScopes(ctx.pool, dataflow.id, missingByTable(missing));
  return { ...updated, changed };
}

/** One of {@link DELETION_SWEEPS}, or a UserInputError that lists them. */
function checkDeletionSweep(value: string): DeletionSweep {
  if ((DELETION_SWEEPS as readonly string[]).includes(value)) return value as DeletionSweep;
  throw new UserInputError(
    `The deletion sweep must be one of ${DELETION_SWEEPS.join(', ')}, not ${JSON.stringify(value)}: ` +
      'how often tables refreshed incrementally are checked for rows deleted in Klaviyo (cheap ones: every run).',
  );
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
