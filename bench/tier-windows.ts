import { findTable } from '../klaviyo/catalog';
import { tableRateLimits } from '../klaviyo/query';
import { BURST_WINDOW_MS, STEADY_WINDOW_MS, tierName, type RateLimits } from '../klaviyo/rate-budget';
import type { RequestLogEntry } from '../sandbox/server';

/**
 * What the sandbox's request log says about one Klaviyo account's rate tiers: per tier, the requests (by arrival time),
 * the most that fell in any window of 1 s and of 60 s (sliding, so stricter than Klaviyo's fixed windows), and the
 * rate over the steady part of the run.
 *
 * The steady part: whole 60-s windows counted from the tier's first request, each one only if the tier still sent a
 * request after it closed (its tables still had pages to read, so the window's count is what the budget allowed, not
 * what the data ran out at). The first burst is not left out: Klaviyo's steady window opens with it, and a budget at
 * the limit spends a window's requests at burst speed and then waits for the next window. The tail (the last,
 * partial window, when fewer tables remain) is left out.
 */
export interface TierWindows {
  tier: string;
  /** The limits the sandbox enforced: Klaviyo's scaled as the sandbox was told. */
  limits: RateLimits;
  tables: string[];
  /** Requests answered (status other than 429). */
  requests: number;
  throttled: number;
  /** First to last request. */
  seconds: number;
  /** The most requests arriving within any 1 s and any 60 s. */
  maxPerBurstWindow: number;
  maxPerSteadyWindow: number;
  /** Requests in each steady window of the steady part (empty when the tier was busy less than one whole window). */
  steadyWindows: number[];
  /** The smallest of `steadyWindows` / the steady limit (NaN when there were none). */
  share: number;
}

/** The limits a request counted against, as a sandbox with rate limits scaled by `scale` counts them. */
export function scaledLimits(limits: RateLimits, scale: number): RateLimits {
  return {
    burst: Math.max(1, Math.floor(limits.burst * scale)),
    steady: Math.max(1, Math.floor(limits.steady * scale)),
  };
}

/** Per tier, from the request log; `tables` restricts it to those tables (all catalog tables when left out). */
export function tierWindows(
  log: readonly RequestLogEntry[],
  options: { scale?: number; tables?: readonly string[] } = {},
): TierWindows[] {
  const wanted = options.tables ? new Set(options.tables) : undefined;
  const byTier = new Map<string, { limits: RateLimits; entries: RequestLogEntry[] }>();
  for (const entry of log) {
    const table = entry.table === null ? undefined : findTable(entry.table);
    if (!table || (wanted && !wanted.has(table.name))) continue;
    const limits = tableRateLimits(table, new URLSearchParams(entry.query));
    const name = tierName(limits);
    const group = byTier.get(name) ?? { limits: scaledLimits(limits, options.scale ?? 1), entries: [] };
    group.entries.push(entry);
    byTier.set(name, group);
  }
  return [...byTier.entries()].map(([tier, { limits, entries }]) => {
    const answered = entries.filter((e) => e.status !== 429);
    const times = answered.map((e) => Date.parse(e.time)).sort((a, b) => a - b);
    const windows = steadyWindows(times);
    return {
      tier,
      limits,
      tables: [...new Set(entries.map((e) => e.table as string))].sort(),
      requests: answered.length,
      throttled: entries.length - answered.length,
      seconds: times.length > 0 ? (times[times.length - 1] - times[0]) / 1000 : 0,
      maxPerBurstWindow: maxInWindow(times, BURST_WINDOW_MS),
      maxPerSteadyWindow: maxInWindow(times, STEADY_WINDOW_MS),
      steadyWindows: windows,
      share: windows.length > 0 ? Math.min(...windows) / limits.steady : NaN,
    };
  });
}

/** The most of the sorted `times` (ms) within any `windowMs`-long half-open interval. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/** Counts in whole steady windows from the first time, each followed by a later request (see {@link TierWindows}). */
export function steadyWindows(times: readonly number[]): number[] {
  if (times.length === 0) return [];
  const first = times[0];
  const last = times[times.length - 1];
  const counts: number[] = [];
  for (let start = first; start + STEADY_WINDOW_MS <= last; start += STEADY_WINDOW_MS) {
    counts.push(times.filter((t) => t >= start && t < start + STEADY_WINDOW_MS).length);
  }
  return counts;
}
