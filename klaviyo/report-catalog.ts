import type { CatalogField, CatalogTable } from './catalog';
import { ONE_PIECE_READING } from './one-piece-reading';

/**
 * The Reporting API's tables: one per report query the engine makes (revision 2026-07-15). Each is a catalog table
 * (purpose Data, its fields the report's statistics) so selection, layout and the warehouse treat it like any other,
 * plus a {@link ReportSpec} saying how it is asked for. Nothing here does I/O; this module imports only types from
 * catalog.ts, which lists these tables beside the list endpoints.
 */

/** Statistics of campaign and flow reports (Klaviyo's enum). */
const MESSAGE_STATISTICS = [
  'average_order_value',
  'bounce_rate',
  'bounced',
  'bounced_or_failed',
  'bounced_or_failed_rate',
  'click_rate',
  'click_to_open_rate',
  'clicks',
  'clicks_unique',
  'conversion_rate',
  'conversion_uniques',
  'conversion_value',
  'conversions',
  'delivered',
  'delivery_rate',
  'failed',
  'failed_rate',
  'message_segment_count_sum',
  'open_rate',
  'opens',
  'opens_unique',
  'recipients',
  'revenue_per_recipient',
  'spam_complaint_rate',
  'spam_complaints',
  'text_message_credit_usage_amount',
  'text_message_roi',
  'text_message_spend',
  'unsubscribe_rate',
  'unsubscribe_uniques',
  'unsubscribes',
] as const;

const FORM_STATISTICS = [
  'closed_form',
  'closed_form_uniques',
  'qualified_form',
  'qualified_form_uniques',
  'submit_rate',
  'submits',
  'submitted_form_step',
  'submitted_form_step_uniques',
  'viewed_form',
  'viewed_form_step',
  'viewed_form_step_uniques',
  'viewed_form_uniques',
] as const;

const SEGMENT_STATISTICS = ['members_added', 'members_removed', 'net_members_changed', 'total_members'] as const;

/** How one report table is asked for. */
export interface ReportSpec {
  /** `values`: one row per grouping over the timeframe; `series`: one row per grouping and day. */
  kind: 'values' | 'series';
  /** The JSON:API type of the request (`campaign-values-report`). */
  type: string;
  /** The `group_by` sent (null: the report takes none), which are also the row's key columns, in order. */
  groupBy: readonly string[] | null;
  /** The grouping columns a row gets (the key, with `date` added for a series). */
  groupings: readonly string[];
  /** The subjects asked about, up to 100 per request: the list table whose ids go into the filter, and how. */
  subject: { table: 'campaigns' | 'flows' | 'forms' | 'segments'; attribute: string; operator: 'contains-any' | 'any' };
  /** Campaign and flow reports count conversions of one metric (the dataflow's conversion metric). */
  needsConversionMetric: boolean;
}

export interface ReportTable extends CatalogTable {
  report: ReportSpec;
}

/** Klaviyo's `contains-any`/`any` filters take at most this many values. */
export const REPORT_FILTER_MAX_VALUES = 100;

function reportTable(
  name: string,
  path: string,
  scope: string,
  statistics: readonly string[],
  report: ReportSpec,
): ReportTable {
  const fields: CatalogField[] = statistics.map((s) => ({ name: s, type: 'numeric', apiType: 'number' }));
  // A report is not a list: none of the list endpoints' reading options (slices included) applies.
  return {
    ...ONE_PIECE_READING,
    name,
    path,
    resourceType: report.type,
    purpose: 'Data',
    tier: 'Reporting',
    tierVariants: [],
    scopes: [scope],
    fields,
    additionalFields: [],
    relationships: [],
    includes: [],
    report,
  };
}

/**
 * One subject's reports: its values and series reports share everything but their kind. Klaviyo names them after the
 * subject (`flow`: type `flow-values-report` at `/api/flow-values-reports`, scope `flows:read`, ids in `flow_id`).
 */
interface ReportFamily {
  subject: 'campaign' | 'flow' | 'form' | 'segment';
  statistics: readonly string[];
  /** The `group_by` sent, which is also the row's key (null: the report takes none; the key is the subject's id). */
  groupBy: readonly string[] | null;
  /** How the filter names the subjects' ids; campaign and flow reports take `contains-any` and count conversions. */
  operator: 'contains-any' | 'any';
  /** The table name of each kind of report the engine reads for the subject. */
  tables: Partial<Record<ReportSpec['kind'], string>>;
}

function reportTablesOf(family: ReportFamily): ReportTable[] {
  const { subject, statistics, groupBy, operator, tables } = family;
  const idAttribute = `${subject}_id`;
  return (['values', 'series'] as const).flatMap((kind) => {
    const name = tables[kind];
    if (name === undefined) return [];
    const type = `${subject}-${kind}-report`;
    return reportTable(name, `/api/${type}s`, `${subject}s:read`, statistics, {
      kind,
      type,
      groupBy,
      groupings: groupBy ?? [idAttribute],
      subject: { table: `${subject}s`, attribute: idAttribute, operator },
      needsConversionMetric: operator === 'contains-any',
    });
  });
}

const CAMPAIGN_KEY = ['campaign_id', 'campaign_message_id', 'send_channel'] as const;
const FLOW_KEY = ['flow_id', 'flow_message_id', 'send_channel'] as const;
const FAMILIES: readonly ReportFamily[] = [
  {
    subject: 'campaign',
    statistics: MESSAGE_STATISTICS,
    groupBy: CAMPAIGN_KEY,
    operator: 'contains-any',
    tables: { values: 'campaign_message_values' },
  },
  {
    subject: 'flow',
    statistics: MESSAGE_STATISTICS,
    groupBy: FLOW_KEY,
    operator: 'contains-any',
    tables: { values: 'flow_message_values', series: 'flow_daily_series' },
  },
  {
    subject: 'form',
    statistics: FORM_STATISTICS,
    groupBy: ['form_id'],
    operator: 'any',
    tables: { values: 'form_values', series: 'form_daily_series' },
  },
  {
    subject: 'segment',
    statistics: SEGMENT_STATISTICS,
    groupBy: null,
    operator: 'any',
    tables: { values: 'segment_values', series: 'segment_daily_series' },
  },
];

export const REPORT_TABLES: readonly ReportTable[] = Object.freeze(FAMILIES.flatMap(reportTablesOf));

/** The report spec of a table, or undefined for a list table. */
export function reportSpecOf(table: CatalogTable): ReportSpec | undefined {
  return (table as Partial<ReportTable>).report;
}

/**
 * Whether a new dataflow selects the table unless told otherwise: every list table, but no report table, since
 * reports spend Klaviyo's daily quota of 225 requests (they are selected by name, like any other table).
 */
export function selectedByDefault(table: CatalogTable): boolean {
  return reportSpecOf(table) === undefined;
}
