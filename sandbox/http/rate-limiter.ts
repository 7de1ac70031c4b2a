import { throttled } from './api-error';

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

const BURST_MS = 1_000;
const STEADY_MS = 60_000;

interface Bucket {
  burstStart: number;
  burstCount: number;
  steadyStart: number;
  steadyCount: number;
}

/**
 * Klaviyo's limits for one account: fixed windows of 1 s (burst) and 60 s (steady) per rate tier, shared by all keys.
 * A window opens with the first request after the previous one closed, so a test's burst of requests always lands in
 * one window. Throttled requests are not counted.
 */
export class RateLimiter {
  private settings: Required<RateLimitSettings>;
  private readonly buckets = new Map<string, Bucket>();

  constructor(settings: RateLimitSettings) {
    this.settings = normalise(settings);
  }

  get current(): Required<RateLimitSettings> {
    return { ...this.settings };
  }

  /** Replaces the settings and forgets all windows. */
  set(settings: RateLimitSettings): void {
    this.settings = normalise(settings);
    this.buckets.clear();
  }

  /** Counts a request against its tier; throws the 429 when a window is full. Null when limits are off. */
  take(limits: Limits, now = Date.now()): RateLimitHeaders | null {
    if (!this.settings.enabled) return null;
    const burst = Math.max(1, Math.floor(limits.burst * this.settings.scale));
    const steady = Math.max(1, Math.floor(limits.steady * this.settings.scale));
    const name = `${limits.burst}/${limits.steady}`;
    let bucket = this.buckets.get(name);
    if (!bucket) {
      bucket = { burstStart: now, burstCount: 0, steadyStart: now, steadyCount: 0 };
      this.buckets.set(name, bucket);
    }
    if (now - bucket.burstStart >= BURST_MS) {
      bucket.burstStart = now;
      bucket.burstCount = 0;
    }
    if (now - bucket.steadyStart >= STEADY_MS) {
      bucket.steadyStart = now;
      bucket.steadyCount = 0;
    }
    if (bucket.steadyCount >= steady) throw throttled(secondsUntil(bucket.steadyStart + STEADY_MS, now));
    if (bucket.burstCount >= burst) throw throttled(secondsUntil(bucket.burstStart + BURST_MS, now));
    bucket.burstCount += 1;
    bucket.steadyCount += 1;
    return {
      'RateLimit-Limit': String(steady),
      'RateLimit-Remaining': String(steady - bucket.steadyCount),
      'RateLimit-Reset': String(secondsUntil(bucket.steadyStart + STEADY_MS, now)),
    };
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}

function normalise(settings: RateLimitSettings): Required<RateLimitSettings> {
  const scale = settings.scale ?? 1;
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError('Rate limit scale must be a positive number');
  return { enabled: settings.enabled, scale };
}
