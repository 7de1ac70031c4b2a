import { ApiError } from '../http/api-error';
import type { AccountCalendar } from './account-calendar';
import type { ReportEndpoint } from './endpoints';
import { parseReportFilter, ReportFilterError, type ReportCondition } from './report-filter';
import {
  bucketStarts,
  customBound,
  INTERVAL_MAX_DAYS,
  INTERVALS,
  namedRange,
  oneYearAfter,
  TIMEFRAME_KEYS,
  type Interval,
  type Range,
  type TimeframeKey,
} from './timeframe';

/** A report body that passed Klaviyo's checks. */
export interface ReportQuery {
  statistics: string[];
  range: Range;
  groupBy: string[];
  conditions: ReportCondition[];
  /** Series only. */
  interval: Interval | null;
  /** Series only: the start of each bucket. */
  buckets: number[];
  /** Campaigns and flows: the metric whose events are conversions. */
  conversionMetricId: string | null;
}

export interface RequestContext {
  nowSec: number;
  calendar: AccountCalendar;
  metricExists(id: string): boolean;
}

function bad(detail: string, pointer: string): ApiError {
  return new ApiError(400, 'invalid', 'Invalid input.', detail, { pointer });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const ATTRIBUTES = '/data/attributes';

/** Checks a report body as Klaviyo does: its schema first, then the rules its descriptions state. */
export function parseReportRequest(endpoint: ReportEndpoint, body: unknown, ctx: RequestContext): ReportQuery {
  if (!isObject(body) || !isObject(body.data))
    throw bad("The body must be a JSON object with a 'data' object.", '/data');
  const data = body.data;
  if (data.type !== endpoint.type)
    throw bad(`'data.type' must be '${endpoint.type}', not ${JSON.stringify(data.type ?? null)}.`, '/data/type');
  if (!isObject(data.attributes)) throw bad("'data.attributes' must be an object.", ATTRIBUTES);
  const a = data.attributes;

  const statistics = a.statistics;
  if (!Array.isArray(statistics) || statistics.length === 0)
    throw bad("'statistics' is required: a list of statistic names.", `${ATTRIBUTES}/statistics`);
  for (const name of statistics) {
    if (typeof name !== 'string' || !endpoint.statistics.includes(name))
      throw bad(
        `${JSON.stringify(name)} is not a valid statistic. Allowed: ${endpoint.statistics.join(', ')}.`,
        `${ATTRIBUTES}/statistics`,
      );
  }

  const range = parseTimeframe(endpoint, a.timeframe, ctx);

  let conversionMetricId: string | null = null;
  if (endpoint.conversionMetric) {
    if (typeof a.conversion_metric_id !== 'string' || a.conversion_metric_id === '')
      throw bad(
        "'conversion_metric_id' is required: the id of the metric that counts as a conversion.",
        `${ATTRIBUTES}/conversion_metric_id`,
      );
    if (!ctx.metricExists(a.conversion_metric_id))
      throw bad(`Metric ${a.conversion_metric_id} does not exist.`, `${ATTRIBUTES}/conversion_metric_id`);
    conversionMetricId = a.conversion_metric_id;
  }

  const groupBy = parseGroupBy(endpoint, a.group_by);

  if (a.filter !== undefined && a.filter !== null && typeof a.filter !== 'string')
    throw bad('\'filter\' must be a string such as equals(campaign_id,"...").', `${ATTRIBUTES}/filter`);
  let conditions: ReportCondition[];
  try {
    conditions = parseReportFilter(endpoint, a.filter as string | null | undefined);
  } catch (err) {
    if (err instanceof ReportFilterError) throw bad(err.message, `${ATTRIBUTES}/filter`);
    throw err;
  }

  let interval: Interval | null = null;
  let buckets: number[] = [];
  if (endpoint.shape === 'series') {
    if (typeof a.interval !== 'string' || !(INTERVALS as readonly string[]).includes(a.interval))
      throw bad(
        `'interval' is required and must be one of ${INTERVALS.join(', ')}, not ${JSON.stringify(a.interval ?? null)}.`,
        `${ATTRIBUTES}/interval`,
      );
    interval = a.interval as Interval;
    const maxDays = INTERVAL_MAX_DAYS[interval];
    // A day of the account's calendar may be 23 or 25 hours long; an hour of slack keeps 60 local days allowed.
    if (maxDays !== null && range.endSec - range.startSec > maxDays * 86_400 + 3_600)
      throw bad(
        `A ${interval} series covers at most ${maxDays} days; this timeframe is ${Math.ceil((range.endSec - range.startSec) / 86_400)} days long.`,
        `${ATTRIBUTES}/interval`,
      );
    buckets = bucketStarts(range, interval, ctx.calendar);
  }

  return {
    statistics: [...new Set(statistics as string[])],
    range,
    groupBy,
    conditions,
    interval,
    buckets,
    conversionMetricId,
  };
}

function parseTimeframe(endpoint: ReportEndpoint, timeframe: unknown, ctx: RequestContext): Range {
  const pointer = `${ATTRIBUTES}/timeframe`;
  if (!isObject(timeframe))
    throw bad('\'timeframe\' is required: {"key": "last_30_days"} or {"start": ..., "end": ...}.', pointer);
  const hasKey = 'key' in timeframe;
  const hasRange = 'start' in timeframe || 'end' in timeframe;
  if (hasKey && hasRange) throw bad("'timeframe' takes either a key or a start and an end, not both.", pointer);
  let range: Range;
  if (hasKey) {
    if (typeof timeframe.key !== 'string' || !(TIMEFRAME_KEYS as readonly string[]).includes(timeframe.key))
      throw bad(
        `${JSON.stringify(timeframe.key)} is not a valid timeframe key. Allowed: ${TIMEFRAME_KEYS.join(', ')}.`,
        `${pointer}/key`,
      );
    range = namedRange(timeframe.key as TimeframeKey, ctx.nowSec, ctx.calendar);
  } else {
    const start = typeof timeframe.start === 'string' ? customBound(timeframe.start, ctx.calendar) : undefined;
    const end = typeof timeframe.end === 'string' ? customBound(timeframe.end, ctx.calendar) : undefined;
    if (start === undefined)
      throw bad(
        "'timeframe.start' must be a date-time such as 2026-01-01T00:00:00+00:00 (the offset is ignored: the account's timezone applies).",
        `${pointer}/start`,
      );
    if (end === undefined)
      throw bad(
        "'timeframe.end' must be a date-time such as 2026-01-31T00:00:00+00:00 (the offset is ignored: the account's timezone applies).",
        `${pointer}/end`,
      );
    if (end <= start) throw bad("'timeframe.end' must be after 'timeframe.start'.", `${pointer}/end`);
    if (end > oneYearAfter(start, ctx.calendar))
      throw bad('The timeframe is longer than one year; split it into several requests.', pointer);
    range = { startSec: start, endSec: end };
  }
  if (endpoint.earliestSec !== undefined && range.startSec < endpoint.earliestSec)
    throw bad('Data is unavailable before June 1st, 2023. Please use a time frame after this date.', pointer);
  return range;
}

function parseGroupBy(endpoint: ReportEndpoint, groupBy: unknown): string[] {
  const pointer = `${ATTRIBUTES}/group_by`;
  if (groupBy === undefined || groupBy === null) return [...endpoint.defaultGroupBy];
  if (endpoint.groupBy.length === 0) throw bad(`${endpoint.type} does not take 'group_by'.`, pointer);
  if (!Array.isArray(groupBy)) throw bad("'group_by' must be a list of attribute names.", pointer);
  for (const name of groupBy) {
    if (typeof name !== 'string' || !endpoint.groupBy.includes(name))
      throw bad(`${JSON.stringify(name)} is not a valid group_by. Allowed: ${endpoint.groupBy.join(', ')}.`, pointer);
  }
  const names = [...new Set(groupBy as string[])];
  const missing = endpoint.requiredGroupBy.filter((name) => !names.includes(name));
  if (missing.length > 0)
    throw bad(
      `'group_by' must include ${endpoint.requiredGroupBy.join(' and ')}; missing: ${missing.join(', ')}.`,
      pointer,
    );
  return names;
}
