import { z } from 'zod/v4';
import type { KlaviyoClient } from './klaviyo-client';
import { KlaviyoMalformedResponseError, KlaviyoThrottledError } from './errors';
import { REPORT_FILTER_MAX_VALUES, type ReportTable } from './report-catalog';
import type { JsonApiResource } from '../warehouse/row-mapping';

/**
 * Report queries of the Reporting API: the request documents (statistics, a custom time frame of whole days in the
 * account's timezone, group_by, a filter of at most 100 subjects, a daily interval for series), the POST through the
 * client's transport and rate budget, and the answer turned into one resource per row, so the warehouse's row
 * mapping types it like any page. Klaviyo's daily report quota is the caller's business (report-quota.ts); a 429
 * asking to wait longer than {@link LONG_THROTTLE_MS} comes back as a {@link ReportQuotaExhausted}.
 */

/** A daily series may span at most this many days per request (Klaviyo: daily interval up to 60 days). */
export const SERIES_DAYS_PER_REQUEST = 60;
/** A full read covers this many days back from tomorrow (a custom time frame is at most one year). */
export const FULL_READ_DAYS = 365;
/** A 429 asking to wait longer than this is the daily quota, not the 1/s or 2/min windows: the run waits instead. */
export const LONG_THROTTLE_MS = 60_000;

/** One report request, as planned and kept in the checkpoint (so a resumed read asks the same). */
export interface ReportRequest {
  /** The custom time frame, wall-clock days in the account's timezone: `YYYY-MM-DD`, end excluded. */
  startDay: string;
  endDay: string;
  /** The subjects' ids (campaigns, flows, forms, segments), at most {@link REPORT_FILTER_MAX_VALUES}. */
  ids: string[];
}

/** Thrown when Klaviyo's daily report quota is spent: retry at `until`. */
export class ReportQuotaExhausted extends Error {
  constructor(readonly until: Date) {
    super(`Klaviyo's daily report quota is spent until ${until.toISOString()}.`);
    this.name = 'ReportQuotaExhausted';
  }
}

/** `YYYY-MM-DD` of an instant in `timeZone` (an IANA name; UTC when absent or unknown). */
export function wallDay(at: Date, timeZone: string | undefined): string {
  const format = (zone: string) =>
    new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
  try {
    return format(timeZone ?? 'UTC');
  } catch {
    return format('UTC');
  }
}

/** `day` plus `days` (negative: before), as `YYYY-MM-DD`. */
export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (`YYYY-MM-DD`). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** `ids` in groups Klaviyo's filter takes (at most 100). */
export function chunkIds(ids: readonly string[], size = REPORT_FILTER_MAX_VALUES): string[][] {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += size) chunks.push(ids.slice(i, i + size));
  return chunks;
}

/**
 * The requests that read `table` for `subjects` over the days [startDay, endDay): one per 100 subjects, and for a
 * series one per 60 days as well (windows meet end to start, so no day is asked twice).
 */
export function planReportRequests(
  table: ReportTable,
  subjects: readonly string[],
  startDay: string,
  endDay: string,
): ReportRequest[] {
  const windows: Array<[string, string]> = [];
  if (table.report.kind === 'series') {
    for (let day = startDay; day < endDay; day = addDays(day, SERIES_DAYS_PER_REQUEST)) {
      const end = addDays(day, SERIES_DAYS_PER_REQUEST);
      windows.push([day, end < endDay ? end : endDay]);
    }
  } else {
    windows.push([startDay, endDay]);
  }
  return chunkIds(subjects).flatMap((ids) => windows.map(([start, end]) => ({ startDay: start, endDay: end, ids })));
}

/** The JSON:API document of one request. */
export function reportBody(
  table: ReportTable,
  request: ReportRequest,
  options: { statistics: readonly string[]; conversionMetricId?: string },
): unknown {
  const { report } = table;
  const values = request.ids.map((id) => JSON.stringify(id)).join(',');
  const attributes: Record<string, unknown> = {
    statistics: options.statistics,
    timeframe: { start: `${request.startDay}T00:00:00+00:00`, end: `${request.endDay}T00:00:00+00:00` },
    filter: `${report.subject.operator}(${report.subject.attribute},[${values}])`,
  };
  if (report.groupBy) attributes.group_by = report.groupBy;
  if (report.kind === 'series') attributes.interval = 'daily';
  if (report.needsConversionMetric) attributes.conversion_metric_id = options.conversionMetricId;
  return { data: { type: report.type, attributes } };
}

const statisticValue = z.union([z.number(), z.null()]);
const answerSchema = z.object({
  data: z.object({
    attributes: z.object({
      results: z.array(
        z.object({
          groupings: z.record(z.string(), z.unknown()),
          statistics: z.record(z.string(), z.union([statisticValue, z.array(statisticValue)])),
        }),
      ),
      date_times: z.array(z.string()).optional(),
    }),
  }),
  links: z.object({ next: z.string().nullable().optional() }).loose().optional(),
});

/**
 * Asks one report (following `links.next` if Klaviyo pages the answer) and returns its rows as resources whose
 * attributes are the groupings, a series' `date`, and the statistics. Throws {@link ReportQuotaExhausted} when a 429
 * asks to wait longer than {@link LONG_THROTTLE_MS}; other failures as the client's KlaviyoErrors.
 */
export async function fetchReport(
  client: KlaviyoClient,
  table: ReportTable,
  body: unknown,
  signal?: AbortSignal,
): Promise<{ rows: JsonApiResource[]; requests: number; bytes: number }> {
  const rows: JsonApiResource[] = [];
  let path: string | null = table.path;
  let requests = 0;
  let bytes = 0;
  while (path !== null) {
    let answer: { json: unknown; url: string; bytes: number };
    try {
      answer = await client.post(table, path, body, { signal, maxThrottleWaitMs: LONG_THROTTLE_MS });
    } catch (err) {
      if (err instanceof KlaviyoThrottledError && err.nextWaitMs > LONG_THROTTLE_MS) {
        throw new ReportQuotaExhausted(new Date(Date.now() + err.nextWaitMs));
      }
      throw err;
    }
    requests++;
    bytes += answer.bytes;
    rows.push(...reportRows(table, answer.json, answer.url));
    const next = (answer.json as { links?: { next?: string | null } }).links?.next ?? null;
    path = next ? nextPath(next, table.path) : null;
  }
  return { rows, requests, bytes };
}

/** The rows of one answer; throws KlaviyoMalformedResponseError when it does not fit the report's shape. */
export function reportRows(table: ReportTable, json: unknown, url: string): JsonApiResource[] {
  const malformed = (problem: string) =>
    new KlaviyoMalformedResponseError({ table: table.name, url, status: 200, problem });
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) {
    const [first] = parsed.error.issues;
    throw malformed(`${first.path.join('.')}: ${first.message}`);
  }
  const { results, date_times: dateTimes } = parsed.data.data.attributes;
  const series = table.report.kind === 'series';
  if (series && !dateTimes) throw malformed('a series report has no date_times');
  const rows: JsonApiResource[] = [];
  for (const result of results) {
    const key: Record<string, unknown> = {};
    for (const grouping of table.report.groupings) {
      const value = result.groupings[grouping];
      if (typeof value !== 'string' || value === '') throw malformed(`a result has no grouping "${grouping}"`);
      key[grouping] = value;
    }
    if (!series) {
      rows.push({ type: table.report.type, id: '', attributes: { ...key, ...result.statistics } });
      continue;
    }
    const days = dateTimes as string[];
    for (const [name, values] of Object.entries(result.statistics)) {
      if (!Array.isArray(values) || values.length !== days.length) {
        throw malformed(`the series of "${name}" does not have one value per date_time`);
      }
    }
    days.forEach((date, i) => {
      const statistics = Object.fromEntries(
        Object.entries(result.statistics).map(([name, values]) => [name, (values as Array<number | null>)[i]]),
      );
      // A day with nothing to show has no row: whether Klaviyo lists it depends on which request window asked for
      // it (a message is listed in a window only if it had activity there), so keeping it would make a table
      // depend on how its days were split into requests.
      if (Object.values(statistics).every((v) => v === null || v === 0)) return;
      rows.push({ type: table.report.type, id: '', attributes: { ...key, date, ...statistics } });
    });
  }
  return rows;
}

/** The path and query of a `links.next`, which must stay on the report's path. */
function nextPath(link: string, path: string): string | null {
  const url = new URL(link, 'http://klaviyo.invalid');
  const trimmed = url.pathname.replace(/\/+$/, '');
  if (trimmed !== path) return null;
  return `${path}${url.search}`;
}
