import stated from './report-endpoints.json';

/**
 * Klaviyo's Reporting API (revision 2026-07-15) as data: the seven POST endpoints, what each body may hold and what
 * each answers, as Klaviyo's OpenAPI description states it (report-endpoints.json, written by
 * test/sandbox/extract-klaviyo-schemas.ts: the body's enums and the rules its descriptions state in words). The
 * sandbox reads its own copy of Klaviyo's statement, not the client's report catalog, so that what it answers checks
 * the client's beliefs instead of repeating them; report-schemas.test.ts holds the copy to the request schemas.
 */

export type ReportSubject = 'campaign' | 'flow' | 'form' | 'segment';
export type ReportShape = 'values' | 'series';

export interface FilterAttribute {
  /** Operators the attribute takes (`equals`, `contains-any`, `contains-all`, `any`). */
  operators: readonly string[];
  /** List attributes (tags) are matched against the grouping's set of values. */
  list: boolean;
}

export interface ReportEndpoint {
  path: string;
  /** The JSON:API type of the request and the answer, e.g. `campaign-values-report`. */
  type: string;
  subject: ReportSubject;
  shape: ReportShape;
  scopes: readonly string[];
  statistics: readonly string[];
  /** Whether `conversion_metric_id` is required (campaigns and flows). */
  conversionMetric: boolean;
  /** Allowed `group_by` values; empty when the endpoint takes no `group_by` (segments). */
  groupBy: readonly string[];
  /** What the answer is grouped by when `group_by` is absent. */
  defaultGroupBy: readonly string[];
  /** `group_by` values that must be present when `group_by` is given. */
  requiredGroupBy: readonly string[];
  filters: Readonly<Record<string, FilterAttribute>>;
  /** `send_channel` values a filter may name. */
  channels?: readonly string[];
  /** Whether the endpoint takes `?page_cursor=` (campaigns and flows). */
  pageCursor: boolean;
  /** Earliest day the endpoint has data for (segments: 2023-06-01), as epoch seconds. */
  earliestSec?: number;
}

/** 1/s burst, 2/min steady and 225 per day, the same for all seven. */
export const REPORT_LIMITS = { burst: 1, steady: 2 } as const;

type Stated = (typeof stated.endpoints)[keyof typeof stated.endpoints];

/**
 * What an answer without `group_by` is grouped by where the description does not say: a segment report takes no
 * `group_by` and answers one row per segment.
 */
const UNSTATED_DEFAULT_GROUP_BY: Partial<Record<ReportSubject, readonly string[]>> = { segment: ['segment_id'] };

function endpoint(path: string, statement: Stated): ReportEndpoint {
  const named = /^([a-z]+)-(values|series)-report$/.exec(statement.type);
  if (!named) throw new Error(`Unexpected report type ${statement.type}`);
  const subject = named[1] as ReportSubject;
  const defaultGroupBy = statement.defaultGroupBy ?? UNSTATED_DEFAULT_GROUP_BY[subject];
  if (!defaultGroupBy) throw new Error(`No default grouping for ${path}`);
  return {
    path,
    type: statement.type,
    subject,
    shape: named[2] as ReportShape,
    scopes: statement.scopes,
    statistics: statement.statistics,
    conversionMetric: statement.conversionMetric,
    groupBy: statement.groupBy,
    defaultGroupBy,
    requiredGroupBy: statement.requiredGroupBy,
    filters: statement.filters,
    ...(statement.channels ? { channels: statement.channels } : {}),
    pageCursor: statement.pageCursor,
    ...(statement.earliestDate ? { earliestSec: Date.parse(`${statement.earliestDate}T00:00:00Z`) / 1000 } : {}),
  };
}

export const REPORT_ENDPOINTS: readonly ReportEndpoint[] = Object.freeze(
  Object.entries(stated.endpoints).map(([path, statement]) => endpoint(path, statement)),
);

/** The reporting endpoint a path names, with or without a trailing slash. */
export function matchReportRoute(pathname: string): ReportEndpoint | undefined {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  return REPORT_ENDPOINTS.find((e) => e.path === path);
}

/** Every `filter` list holds at most this many values. */
export const MAX_FILTER_VALUES = 100;
