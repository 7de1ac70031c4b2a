import type { AccountCalendar } from './account-calendar';

/**
 * Report time frames: Klaviyo's named keys or a custom `{start, end}` (at most one year), both read in the
 * account's timezone against the sandbox clock; and the buckets of a series report's `interval`.
 */

export const TIMEFRAME_KEYS = [
  'last_12_months',
  'last_30_days',
  'last_365_days',
  'last_3_months',
  'last_7_days',
  'last_90_days',
  'last_month',
  'last_week',
  'last_year',
  'this_month',
  'this_week',
  'this_year',
  'today',
  'yesterday',
] as const;
export type TimeframeKey = (typeof TIMEFRAME_KEYS)[number];

export const INTERVALS = ['daily', 'hourly', 'monthly', 'weekly'] as const;
export type Interval = (typeof INTERVALS)[number];

/** A half-open range of instants, [startSec, endSec). */
export interface Range {
  startSec: number;
  endSec: number;
}

/**
 * A named time frame at the sandbox clock `nowSec`. "Last N days" are the N whole days before today; "this ..."
 * runs to the end of today; weeks start on Sunday.
 */
export function namedRange(key: TimeframeKey, nowSec: number, cal: AccountCalendar): Range {
  const w = cal.wall(nowSec);
  const today = cal.instant(w.year, w.month, w.day);
  const tomorrow = cal.instant(w.year, w.month, w.day + 1);
  const daysBefore = (n: number) => ({ startSec: cal.instant(w.year, w.month, w.day - n), endSec: today });
  const weekday = new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
  switch (key) {
    case 'today':
      return { startSec: today, endSec: tomorrow };
    case 'yesterday':
      return daysBefore(1);
    case 'last_7_days':
      return daysBefore(7);
    case 'last_30_days':
      return daysBefore(30);
    case 'last_90_days':
      return daysBefore(90);
    case 'last_365_days':
      return daysBefore(365);
    case 'last_3_months':
      return { startSec: cal.instant(w.year, w.month - 3, w.day), endSec: today };
    case 'last_12_months':
      return { startSec: cal.instant(w.year, w.month - 12, w.day), endSec: today };
    case 'this_week':
      return { startSec: cal.instant(w.year, w.month, w.day - weekday), endSec: tomorrow };
    case 'last_week':
      return {
        startSec: cal.instant(w.year, w.month, w.day - weekday - 7),
        endSec: cal.instant(w.year, w.month, w.day - weekday),
      };
    case 'this_month':
      return { startSec: cal.instant(w.year, w.month, 1), endSec: tomorrow };
    case 'last_month':
      return { startSec: cal.instant(w.year, w.month - 1, 1), endSec: cal.instant(w.year, w.month, 1) };
    case 'this_year':
      return { startSec: cal.instant(w.year, 1, 1), endSec: tomorrow };
    case 'last_year':
      return { startSec: cal.instant(w.year - 1, 1, 1), endSec: cal.instant(w.year, 1, 1) };
  }
}

/** An RFC 3339 date-time, as the OpenAPI `date-time` format requires: seconds and an offset included. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * A custom bound: the offset is ignored and the wall-clock time read in the account's timezone, as Klaviyo does.
 * Undefined when the text is not an RFC 3339 date-time.
 */
export function customBound(text: string, cal: AccountCalendar): number | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) => Number(v ?? 0));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  return cal.instant(year, month, day, hour, minute, second);
}

/** The latest end a custom time frame starting at `startSec` may have: one year on. */
export function oneYearAfter(startSec: number, cal: AccountCalendar): number {
  const w = cal.wall(startSec);
  return cal.instant(w.year + 1, w.month, w.day, w.hour, w.minute, w.second);
}

/** The longest time frame an interval allows, in days (Klaviyo: hourly 7, daily 60, monthly 52 weeks). */
export const INTERVAL_MAX_DAYS: Record<Interval, number | null> = {
  hourly: 7,
  daily: 60,
  weekly: null,
  monthly: 52 * 7,
};

/**
 * The buckets of a series: the first starts at the time frame's start floored to the interval's unit (the hour,
 * the local day, the first of the month), each next one a unit later, until the end of the time frame.
 */
export function bucketStarts(range: Range, interval: Interval, cal: AccountCalendar): number[] {
  const out: number[] = [];
  const w = cal.wall(range.startSec);
  let k = 0;
  for (;;) {
    const start =
      interval === 'hourly'
        ? cal.instant(w.year, w.month, w.day, w.hour + k)
        : interval === 'daily'
          ? cal.instant(w.year, w.month, w.day + k)
          : interval === 'weekly'
            ? cal.instant(w.year, w.month, w.day + 7 * k)
            : cal.instant(w.year, w.month + k, 1);
    if (start >= range.endSec) break;
    out.push(start);
    k += 1;
  }
  return out;
}

/** The index of the bucket holding an instant (the last bucket start at or before it), -1 before the first. */
export function bucketOf(starts: readonly number[], epochSec: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  if (hi < 0 || epochSec < starts[0]) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= epochSec) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
