import { throttled } from './api-error';
import { RequestWindow } from './request-window';

export interface RateLimitSettings {
  enabled: boolean;
  /** Multiplies every limit (at least 1 request per window remains). @default 1 */
  scale?: number;
}

export interface Limits {
  burst: number;
  steady: number;
}

/** Headers a served request carries. */
export type RateLimitHeaders = Record<'RateLimit-Limit' | 'RateLimit-Remaining' | 'RateLimit-Reset', string>;

/** Klaviyo's two fixed windows per rate tier, by the limit each counts against. */
const WINDOW_MS: Readonly<Record<keyof Limits, number>> = { burst: 1_000, steady: 60_000 };
/** Steady first: when both windows are full, its wait is the one that matters. */
const CHECK_ORDER = ['steady', 'burst'] as const;

/**
 * Klaviyo's limits for one account: fixed windows of 1 s (burst) and 60 s (steady) per rate tier, shared by all keys.
 * A window opens with the first request after the previous one closed, so a test's burst of requests always lands in
 * one window. Throttled requests are not counted.
 */
export class RateLimiter {
  private settings: Required<RateLimitSettings>;
  private readonly tiers = new Map<string, Record<keyof Limits, RequestWindow>>();

  constructor(settings: RateLimitSettings) {
    this.settings = normalise(settings);
  }

  get current(): Required<RateLimitSettings> {
    return { ...this.settings };
  }

  /** Replaces the settings and forgets all windows. */
  set(settings: RateLimitSettings): void {
    this.settings = normalise(settings);
    this.tiers.clear();
  }

  /** Counts a request against its tier; throws the 429 when a window is full. Null when limits are off. */
  take(limits: Limits, now = Date.now()): RateLimitHeaders | null {
    if (!this.settings.enabled) return null;
    const name = `${limits.burst}/${limits.steady}`;
    let windows = this.tiers.get(name);
    if (!windows) {
      windows = {
        burst: new RequestWindow('fixed', WINDOW_MS.burst),
        steady: new RequestWindow('fixed', WINDOW_MS.steady),
      };
      this.tiers.set(name, windows);
    }
    const allowed = (limit: keyof Limits) => Math.max(1, Math.floor(limits[limit] * this.settings.scale));
    for (const limit of CHECK_ORDER) {
      const window = windows[limit];
      if (window.used(now) >= allowed(limit)) throw throttled(window.secondsUntilFree(now));
    }
    for (const limit of CHECK_ORDER) windows[limit].count(now);
    const steady = allowed('steady');
    return {
      'RateLimit-Limit': String(steady),
      'RateLimit-Remaining': String(steady - windows.steady.used(now)),
      'RateLimit-Reset': String(windows.steady.secondsUntilFree(now)),
    };
  }
}

function normalise(settings: RateLimitSettings): Required<RateLimitSettings> {
  const scale = settings.scale ?? 1;
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError('Rate limit scale must be a positive number');
  return { enabled: settings.enabled, scale };
}
