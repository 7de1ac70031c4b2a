import { ApiError } from './api-error';

export interface ReportQuotaSettings {
  /** Reporting requests an account may make per day (Klaviyo: 225). @default 225 */
  reportsPerDay?: number;
  /** The length of the rolling "day" in real seconds, so a test's day can last 20 s. @default 86400 */
  reportDaySeconds?: number;
}

export const DEFAULT_REPORTS_PER_DAY = 225;
export const DEFAULT_REPORT_DAY_SECONDS = 86_400;

export interface ReportQuotaStatus {
  limit: number;
  daySeconds: number;
  /** Requests counted in the current window. */
  used: number;
  /** Whole seconds until the oldest counted request leaves the window; 0 when none is counted. */
  oldestLeavesInSeconds: number;
}

/**
 * Klaviyo's daily quota of the Reporting API (225 requests per account per day), as a rolling window over the
 * requests it counted. Unlike the burst and steady windows it is always counted, rate limits on or off.
 *
 * Its clock is real time plus however far `advance` moved the sandbox clock: a day on the sandbox clock turns the
 * window as a day of real time would, while a test that shortens the day to seconds only has to wait.
 */
export class ReportQuota {
  private settings: Required<ReportQuotaSettings>;
  /** Quota-clock milliseconds of each counted request, oldest first. */
  private counted: number[] = [];

  constructor(
    settings: ReportQuotaSettings,
    /** Seconds the sandbox clock was moved by `advance` so far. */
    private readonly advancedSeconds: () => number,
  ) {
    this.settings = normalise(settings);
  }

  get current(): Required<ReportQuotaSettings> {
    return { ...this.settings };
  }

  /** Replaces the limit and the day's length; requests already counted stay counted (they happened). */
  set(settings: ReportQuotaSettings): void {
    this.settings = normalise(settings);
  }

  private now(realMs: number): number {
    return realMs + this.advancedSeconds() * 1000;
  }

  private prune(now: number): void {
    const windowMs = this.settings.reportDaySeconds * 1000;
    let drop = 0;
    while (drop < this.counted.length && this.counted[drop] + windowMs <= now) drop++;
    if (drop > 0) this.counted = this.counted.slice(drop);
  }

  /** Throws Klaviyo's 429 when the day's quota is spent; does not count the request. */
  check(realMs = Date.now()): void {
    const now = this.now(realMs);
    this.prune(now);
    if (this.counted.length < this.settings.reportsPerDay) return;
    const seconds = this.secondsUntilOldestLeaves(now);
    throw new ApiError(
      429,
      'throttled',
      'Request was throttled.',
      `Request was throttled. Daily limit of ${this.settings.reportsPerDay} reporting requests reached. ` +
        `Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.`,
      {},
      { 'Retry-After': String(seconds) },
    );
  }

  /** Counts a request that was let through. */
  count(realMs = Date.now()): void {
    this.counted.push(this.now(realMs));
  }

  status(realMs = Date.now()): ReportQuotaStatus {
    const now = this.now(realMs);
    this.prune(now);
    return {
      limit: this.settings.reportsPerDay,
      daySeconds: this.settings.reportDaySeconds,
      used: this.counted.length,
      oldestLeavesInSeconds: this.counted.length === 0 ? 0 : this.secondsUntilOldestLeaves(now),
    };
  }

  private secondsUntilOldestLeaves(now: number): number {
    const oldest = this.counted[0] ?? now;
    return Math.max(1, Math.ceil((oldest + this.settings.reportDaySeconds * 1000 - now) / 1000));
  }
}

function normalise(settings: ReportQuotaSettings): Required<ReportQuotaSettings> {
  const reportsPerDay = settings.reportsPerDay ?? DEFAULT_REPORTS_PER_DAY;
  const reportDaySeconds = settings.reportDaySeconds ?? DEFAULT_REPORT_DAY_SECONDS;
  if (!Number.isInteger(reportsPerDay) || reportsPerDay < 0)
    throw new RangeError('reportsPerDay must be a non-negative integer');
  if (!Number.isFinite(reportDaySeconds) || reportDaySeconds <= 0)
    throw new RangeError('reportDaySeconds must be a positive number of seconds');
  return { reportsPerDay, reportDaySeconds };
}
