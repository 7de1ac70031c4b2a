import path from 'node:path';
import { RATE_TIERS } from '../klaviyo/catalog';
import { OperationFailedError } from '../client/dataflow-api';
import type { SandboxSizes } from '../sandbox/server';
import { findFreePort } from '../stack/free-port';
import { startBenchSandbox, type BenchStack } from './bench-stack';
import { formatMetrics, scrapeMetrics, summarizeMetrics, type MetricsSummary } from './metrics-scrape';
import { scaledLimits, tierWindows, type TierWindows } from './tier-windows';
import { startWorkerChild, type WorkerChild } from './worker-child';

/**
 * Scale-out: several worker processes (one task queue, one Postgres ledger of rate leases) run five dataflows on one
 * Klaviyo account at once, the sandbox enforcing Klaviyo's limits. Every tier's requests must stay under its limits
 * (no 429) and reach at least 90% of its steady limit over the steady part of the run (see tier-windows.ts).
 * test/engine/scale-out.test.ts runs the same dataflows at a third of the limits, with a worker killed.
 */
export const SCALE_OUT_DATAFLOWS: readonly { name: string; tables: string[]; excludeFields?: string[] }[] = [
  // additional-fields[profile]=predictive_analytics would move profiles to the M tier: keep them in L.
  { name: 'ShopA', tables: ['catalog_items', 'profiles'], excludeFields: ['profiles.predictive_analytics'] },
  { name: 'ShopB', tables: ['catalog_category_items', 'lists'] },
  { name: 'ShopC', tables: ['catalog_variants', 'push_tokens'] },
  { name: 'ShopD', tables: ['templates', 'reviews'] },
  { name: 'ShopE', tables: ['catalog_category_items', 'images'] },
];

/** Tiers the scale-out reads enough of to be bound by the budget. */
export const SCALE_OUT_TIERS = ['XL', 'L', 'M'] as const;

/** The sandbox finds a category's items by scanning every item: few items keep the fan-out cheap to serve. */
const CATALOG_ITEMS = 3_000;

/**
 * Sizes that need about `windows` steady windows of requests in each of XL, L and M at limits scaled by `scale`.
 * So that requests are bound by the budget rather than by the machine's speed at storing rows, most of XL's requests
 * are a fan-out (one items page per category, a few rows each) and most of L's are 10-row pages (lists, templates).
 */
export function scaleOutSizes(scale: number, windows: number): Partial<SandboxSizes> {
  const target = (tier: keyof typeof RATE_TIERS) => Math.ceil(scaledLimits(RATE_TIERS[tier], scale).steady * windows);
  const xl = target('XL');
  const variantPages = Math.ceil(xl * 0.05);
  const variantsPerItem = Math.ceil((variantPages * 100) / CATALOG_ITEMS);
  const itemPages = Math.ceil(CATALOG_ITEMS / 100) * (1 + variantsPerItem);
  // Two dataflows read the fan-out (two requests at a time, for a loaded machine); a category costs each its items
  // page and its share (1/100) of the categories' listing.
  const fanOutReaders = SCALE_OUT_DATAFLOWS.filter((d) => d.tables.includes('catalog_category_items')).length;
  const categories = Math.max(1, Math.floor((xl - itemPages) / (1.01 * fanOutReaders)));
  const l = target('L');
  const m = target('M');
  return {
    catalogItems: CATALOG_ITEMS,
    catalogVariantsPerItem: variantsPerItem,
    catalogCategories: categories,
    profiles: Math.ceil(l * 0.1) * 100,
    lists: Math.ceil(l * 0.45) * 10,
    templates: Math.ceil(l * 0.45) * 10,
    pushTokens: Math.ceil(m / 3) * 100,
    reviews: Math.ceil(m / 3) * 100,
    images: Math.ceil(m / 3) * 100,
  };
}

export interface ScaleOutFigures {
  workers: number;
  windows: number;
  seconds: number;
  /** 'succeeded', or the first failure in words. */
  outcome: string;
  throttled: number;
  tiers: TierWindows[];
  rows: number;
  metrics: MetricsSummary;
}

export async function runScaleOut(
  stack: BenchStack,
  options: { workers: number; windows: number; seed: number },
): Promise<ScaleOutFigures> {
  const sizes = scaleOutSizes(1, options.windows);
  const sandbox = await startBenchSandbox(options.seed, sizes, ['--request-log', '200000']);
  const api = await stack.connectApi();
  const workers: WorkerChild[] = [];
  try {
    // The API's key check runs in this process: its budget off, as the sandbox's while the dataflows are created.
    process.env.KLAVIYO_RATE_LIMITS = 'off';
    for (const dataflow of SCALE_OUT_DATAFLOWS) {
      await api.create({ ...dataflow, apiKey: sandbox.keys.full, baseUrl: sandbox.baseUrl });
    }
    const metricsUrls: string[] = [];
    await Promise.all(
      Array.from({ length: options.workers }, async (_, i) => {
        const port = await findFreePort();
        metricsUrls.push(`http://127.0.0.1:${port}/metrics`);
        const env = { ...stack.env, DATAFLOW_METRICS_ADDRESS: `127.0.0.1:${port}` };
        workers.push(await startWorkerChild(env, path.join(stack.dir, `worker-scale-out-${i + 1}.log`)));
      }),
    );
    // Turning the limits on forgets every window: the runs start with Klaviyo's full budget.
    await sandbox.setRateLimits({ enabled: true, scale: 1 });
    await sandbox.resetRequestLog();
    console.error(
      `bench: scale-out, ${options.workers} workers, ${SCALE_OUT_DATAFLOWS.length} dataflows on one account ` +
        `(about ${options.windows} minutes of each tier's limit)…`,
    );
    const started = Date.now();
    let outcome = 'succeeded';
    let rows = 0;
    const runs = await Promise.all(SCALE_OUT_DATAFLOWS.map((d) => api.run(d.name)));
    const settled = await Promise.allSettled(runs.map((run) => api.waitForRun(run)));
    for (const result of settled) {
      if (result.status === 'fulfilled') rows += result.value.tables.reduce((n, t) => n + t.rows, 0);
      else if (outcome === 'succeeded') {
        if (!(result.reason instanceof OperationFailedError)) throw result.reason;
        outcome = `failed: ${result.reason.message}`;
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const log = await sandbox.requestLog();
    const metrics = summarizeMetrics(await scrapeMetrics(metricsUrls), metricsUrls.length);
    return {
      workers: options.workers,
      windows: options.windows,
      seconds,
      outcome,
      throttled: log.filter((e) => e.status === 429).length,
      tiers: tierWindows(log),
      rows,
      metrics,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await api.close();
    await sandbox.close();
  }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatScaleOut(figures: ScaleOutFigures): string {
  const header = ['tier', 'tables', 'requests', '429s', 'seconds', 'steady windows', 'req/min (least)', 'limit/min'];
  const rows = figures.tiers.map((t) => [
    t.tier,
    t.tables.join(','),
    int(t.requests),
    int(t.throttled),
    t.seconds.toFixed(1),
    t.steadyWindows.map(int).join(' ') || '-',
    t.steadyWindows.length > 0 ? `${int(Math.min(...t.steadyWindows))} (${(t.share * 100).toFixed(1)}%)` : '-',
    int(t.limits.steady),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const measured = figures.tiers.filter((t) => (SCALE_OUT_TIERS as readonly string[]).includes(t.tier));
  const below = measured.filter((t) => !(t.share >= 0.9)).map((t) => t.tier);
  const overdrawn = figures.tiers.filter(
    (t) => t.maxPerBurstWindow > t.limits.burst || t.maxPerSteadyWindow > t.limits.steady,
  );
  return [
    `SCALE-OUT — ${figures.workers} workers, ${SCALE_OUT_DATAFLOWS.length} dataflows on one account, Klaviyo's limits ` +
      `(sandbox scale 1): run ${figures.outcome} in ${figures.seconds.toFixed(1)} s, ${int(figures.rows)} rows, ` +
      `${int(figures.throttled)} answers were 429`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    "steady windows: requests in each whole minute from the tier's first request that still had requests after it " +
      '(the first burst counts: a window opens with it; the last, partial minute does not)',
    `RATE PER TIER (${SCALE_OUT_TIERS.join(', ')}) ≥ 90% of steady in every steady window: ` +
      `${below.length === 0 ? 'met' : `NOT met for ${below.join(', ')}`}; ` +
      `any 1 s or 60 s over its limit: ${overdrawn.length === 0 ? 'none' : overdrawn.map((t) => t.tier).join(', ')}`,
    formatMetrics(figures.metrics),
  ].join('\n');
}
