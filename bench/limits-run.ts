import path from 'node:path';
import { getTable, RATE_TIERS, type RateTier } from '../klaviyo/catalog';
import { tableRateLimits } from '../klaviyo/query';
import { tierName } from '../klaviyo/rate-budget';
import { OperationFailedError } from '../client/dataflow-api';
import type { RequestLogEntry, SandboxSizes } from '../sandbox/server';
import { startBenchSandbox, type BenchStack } from './bench-stack';
import { timedRun } from './run-timing';
import { startWorkerChild } from './worker-child';

/**
 * One table per Klaviyo rate tier, each sized to need about `seconds` of requests at its tier's steady
 * limit (plus a quarter, so it stays busy past its first whole minute); the sandbox enforces Klaviyo's
 * limits (scale 1) and the worker paces itself with its own client budget.
 */
export const LIMIT_TABLES: readonly { table: string; tier: RateTier; size: keyof SandboxSizes; rowsPerPage: number }[] =
  [
    { table: 'profiles', tier: 'L', size: 'profiles', rowsPerPage: 100 },
    { table: 'catalog_categories', tier: 'XL', size: 'catalogCategories', rowsPerPage: 100 },
    { table: 'push_tokens', tier: 'M', size: 'pushTokens', rowsPerPage: 100 },
    { table: 'data_sources', tier: 'S', size: 'dataSources', rowsPerPage: 100 },
    { table: 'web_feeds', tier: 'XS', size: 'webFeeds', rowsPerPage: 20 },
  ];

export interface TierRate {
  tier: string;
  tables: string[];
  /** Requests answered (not 429) for this tier's tables. */
  requests: number;
  throttled: number;
  /** First to last request of the tier's tables (their longest stretch without a minute's pause). */
  busySeconds: number;
  /** Whole minutes measured, from the tier's first request; 0 when busy less than a minute. */
  minutes: number;
  /** Requests answered per minute over those whole minutes (or over the busy time when shorter). */
  perMinute: number;
  steadyLimit: number;
  /** perMinute / steadyLimit. */
  share: number;
}

export interface LimitsFigures {
  seconds: number;
  /** 'succeeded', or the run's failure in words. */
  outcome: string;
  throttled: number;
  tiers: TierRate[];
  rows: Record<string, number>;
}

const NAME = 'BenchLimits';

export async function runLimits(stack: BenchStack, options: { seconds: number; seed: number }): Promise<LimitsFigures> {
  const sizes = Object.fromEntries(
    LIMIT_TABLES.map(({ tier, size, rowsPerPage }) => {
      const pages = Math.ceil(((RATE_TIERS[tier].steady / 60) * options.seconds * 5) / 4);
      return [size, pages * rowsPerPage];
    }),
  );
  // Limits off while the dataflow is created: the API's key check must not spend the run's windows.
  const sandbox = await startBenchSandbox(options.seed, sizes);
  const api = await stack.connectApi();
  try {
    process.env.KLAVIYO_RATE_LIMITS = 'off';
    await api.create({
      name: NAME,
      apiKey: sandbox.keys.full,
      baseUrl: sandbox.baseUrl,
      tables: LIMIT_TABLES.map((t) => t.table),
      // additional-fields[profile]=predictive_analytics moves profiles to the M tier: keep them in L.
      excludeFields: ['profiles.predictive_analytics'],
    });
    const worker = await startWorkerChild(stack.env, path.join(stack.dir, 'worker-limits.log'));
    try {
      // Turning the limits on forgets every window: the run starts with Klaviyo's full budget.
      await sandbox.setRateLimits({ enabled: true, scale: 1 });
      await sandbox.resetRequestLog();
      console.error(`bench: limits run (${LIMIT_TABLES.map((t) => `${t.table} ${t.tier}`).join(', ')})…`);
      const started = Date.now();
      let outcome = 'succeeded';
      let rows: Record<string, number> = {};
      try {
        const run = await timedRun(api, NAME);
        rows = Object.fromEntries(run.result.tables.map((t) => [t.table, t.rows]));
      } catch (err) {
        if (!(err instanceof OperationFailedError)) throw err;
        outcome = `failed: ${err.message}`;
      }
      const seconds = (Date.now() - started) / 1000;
      const log = await sandbox.requestLog();
      const tiers = tierRates(log);
      return { seconds, outcome, throttled: log.filter((e) => e.status === 429).length, tiers, rows };
    } finally {
      await worker.stop();
    }
  } finally {
    await api.close();
    await sandbox.close();
  }
}

/**
 * Per tier, over the requests for the benchmark's tables: the rate over the whole minutes since the
 * tier's first request. Klaviyo's steady limit holds per 60-s window, so a rate over a busy time just
 * over a minute could look like up to twice the limit; whole minutes compare like with like.
 */
export function tierRates(log: readonly RequestLogEntry[]): TierRate[] {
  const byTier = new Map<string, RequestLogEntry[]>();
  const wanted = new Set(LIMIT_TABLES.map((t) => t.table));
  for (const entry of log) {
    if (entry.table === null || !wanted.has(entry.table)) continue;
    const limits = tableRateLimits(getTable(entry.table), new URLSearchParams(entry.query));
    const name = tierName(limits);
    const entries = byTier.get(name) ?? [];
    entries.push(entry);
    byTier.set(name, entries);
  }
  return [...byTier.entries()].map(([tier, all]) => {
    const entries = busiestStretch(all);
    const times = entries.map((e) => Date.parse(e.time)).sort((a, b) => a - b);
    const first = times[0];
    const busySeconds = (times[times.length - 1] - first) / 1000;
    const minutes = Math.floor(busySeconds / 60);
    const answered = entries.filter((e) => e.status !== 429);
    const counted =
      minutes > 0 ? answered.filter((e) => Date.parse(e.time) < first + minutes * 60_000).length : answered.length;
    const perMinute = minutes > 0 ? counted / minutes : (counted / Math.max(busySeconds, 1)) * 60;
    const steadyLimit = RATE_TIERS[tier as RateTier]?.steady ?? Number(tier.split('·')[1]?.replace(/\D/g, '') ?? NaN);
    return {
      tier,
      tables: [...new Set(entries.map((e) => e.table as string))],
      requests: answered.length,
      throttled: entries.length - answered.length,
      busySeconds,
      minutes,
      perMinute,
      steadyLimit,
      share: perMinute / steadyLimit,
    };
  });
}

/**
 * The longest run of requests with no gap of a minute or more: a table that waited for a free lane
 * (the workflow extracts 4 tables at once) must not count the wait after its scope probe as busy time.
 */
function busiestStretch(entries: readonly RequestLogEntry[]): RequestLogEntry[] {
  const sorted = [...entries].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  let best: RequestLogEntry[] = [];
  let current: RequestLogEntry[] = [];
  for (const entry of sorted) {
    const previous = current[current.length - 1];
    if (previous && Date.parse(entry.time) - Date.parse(previous.time) >= 60_000) current = [];
    current.push(entry);
    if (current.length > best.length) best = current;
  }
  return best;
}
