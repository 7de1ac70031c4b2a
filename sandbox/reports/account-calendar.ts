import { ACCOUNT_TIMEZONE } from '../data/account-settings';

/**
 * Wall-clock time in the account's timezone (the sandbox account's is America/New_York): Klaviyo reads report
 * time frames and buckets series by the account's days, not UTC's.
 */

export interface WallTime {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export class AccountCalendar {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }

  /** The wall-clock time at an instant. */
  wall(epochSec: number): WallTime {
    const parts: Record<string, number> = {};
    for (const part of this.format.formatToParts(new Date(epochSec * 1000))) {
      if (part.type !== 'literal') parts[part.type] = Number(part.value);
    }
    return {
      year: parts.year,
      month: parts.month,
      day: parts.day,
      hour: parts.hour,
      minute: parts.minute,
      second: parts.second,
    };
  }

  /** Seconds the zone is ahead of UTC at an instant (New York: -18000 or -14400). */
  offsetSec(epochSec: number): number {
    const w = this.wall(Math.floor(epochSec));
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) / 1000 - Math.floor(epochSec);
  }

  /** The instant a wall-clock time names (months and days may overflow, as with Date.UTC). */
  instant(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
    const asUtc = Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
    const guess = asUtc - this.offsetSec(asUtc);
    return asUtc - this.offsetSec(guess);
  }

  /** The local midnight that starts the day holding an instant. */
  startOfDay(epochSec: number): number {
    const w = this.wall(epochSec);
    return this.instant(w.year, w.month, w.day);
  }

  /** `2026-01-05T00:00:00-05:00`: an instant as the account's wall clock with its offset. */
  iso(epochSec: number): string {
    const w = this.wall(epochSec);
    const offset = this.offsetSec(epochSec);
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset);
    const pad = (n: number) => String(n).padStart(2, '0');
    return (
      `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}` +
      `${sign}${pad(Math.floor(abs / 3600))}:${pad(Math.floor((abs % 3600) / 60))}`
    );
  }
}

let shared: AccountCalendar | undefined;

/** The sandbox account's calendar. */
export function accountCalendar(): AccountCalendar {
  shared ??= new AccountCalendar(ACCOUNT_TIMEZONE);
  return shared;
}
