import { ApiError } from './api-error';
import { RequestWindow } from './request-window';

export interface ReportQuotaSettings {
  /** Reporting requests an account may make per day (Klaviyo: 225). @default 225 */
  reportsPerDay?: number;
  /** The length of the rolling "day" in real seconds, so a test's day can last 20 s. @default 86400 */
  reportDaySeconds?: number;
}

/** Klaviyo's own quota, for what the settings leave out. */
const KLAVIYO_QUOTA: Required<ReportQuotaSettings> = { reportsPerDay: 225, reportDaySeconds: 86_400 };

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
  /** The rolling day of counted requests, on the quota clock. */
  private readonly day: RequestWindow;

  constructor(
    settings: ReportQuotaSettings,
    /** Seconds the sandbox clock was moved by `advance` so far. */
    private readonly advancedSeconds: () => number,
  ) {
    this.settings = normalise(settings);
    this.day = new RequestWindow('rolling', this.settings.reportDaySeconds * 1000);
  }

  get current(): Required<ReportQuotaSettings> {
    return { ...this.settings };
  }

  /** Replaces the limit and the day's length; requests already counted stay counted (they happened). */
  set(settings: ReportQuotaSettings): void {
    this.settings = normalise(settings);
    this.day.lengthMs = this.settings.reportDaySeconds * 1000;
  }

  private now(realMs: number): number {
    return realMs + this.advancedSeconds() * 1000;
  }

  /** Throws Klaviyo's 429 when the day's quota is spent; does not count the request. */
  check(realMs = Date.now()): void {
    const now = this.now(realMs);
    if (this.day.used(now) < this.settings.reportsPerDay) return;
    const seconds = this.day.secondsUntilFree(now);
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
    this.day.count(this.now(realMs));
  }

  status(realMs = Date.now()): ReportQuotaStatus {
    const now = this.now(realMs);
    const used = this.day.used(now);
    return {
      limit: this.settings.reportsPerDay,
      daySeconds: this.settings.reportDaySeconds,
      used,
      oldestLeavesInSeconds: used === 0 ? 0 : this.day.secondsUntilFree(now),
    };
  }
}

function normalise(settings: ReportQuotaSettings): Required<ReportQuotaSettings> {
  const reportsPerDay = settings.reportsPerDay ?? KLAVIYO_QUOTA.reportsPerDay;
  const reportDaySeconds = settings.reportDaySeconds ?? KLAVIYO_QUOTA.reportDaySeconds;
  if (!Number.isInteger(reportsPerDay) || reportsPerDay < 0)
    throw new RangeError('reportsPerDay must be a non-negative integer');
  if (!Number.isFinite(reportDaySeconds) || reportDaySeconds <= 0)
    throw new RangeError('reportDaySeconds must be a positive number of seconds');
  return { reportsPerDay, reportDaySeconds };
}
