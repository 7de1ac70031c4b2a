import path from 'node:path';
import { RATE_TIERS, getTable } from '../klaviyo/catalog';
import type { DataflowApi } from '../client/dataflow-api';
import type { RequestLogEntry } from '../sandbox/server';
import type { SandboxProcess } from '../sandbox/child-process';
import { startBenchSandbox, type BenchStack } from './bench-stack';
import { timedRun } from './run-timing';
import { startWorkerChild, type WorkerChild } from './worker-child';
import { readRss, resetPeakRss } from './worker-rss';

/**
 * Reads over the internet: real Klaviyo limits and the sandbox's latency model on, profiles (L tier) and events (XL)
 * read together, sliced (the engine as it ships) and on one cursor (`DATAFLOW_MAX_SLICES=1`), at each latency.
 *
 * The bound a table is held to is its tier's steady ceiling, or the rate the same machine reads it with limits off
 * and no latency when that is lower (events' ceiling, 58,000 rows/s, is above what two cores load). A profiles read
 * is rated over the whole minutes from its first request, as Klaviyo counts its steady limit per minute (a read
 * shorter than a minute could run at the burst limit); events, far below their ceiling, over their read.
 */
export interface LatencyOptions {
  seed: number;
  /** Profiles of the sliced runs: enough for more than a minute at the L tier's 1,250 rows/s. */
  profiles: number;
  events: number;
  /** Median latencies in ms; the first is the headline. */
  latencies: number[];
  perKbMs: number;
  jitter: number;
  /** Sizes of the single-cursor runs (a cursor at 1,000 ms reads ~100 profiles or ~1,000 events a second). */
  singleProfiles: number;
  singleEvents: number;
}

export const DEFAULT_LATENCY_OPTIONS: Omit<LatencyOptions, 'seed'> = {
  profiles: 90_000,
  events: 500_000,
  latencies: [300, 100, 1000],
  perKbMs: 0,
  jitter: 0.25,
  singleProfiles: 5_000,
  singleEvents: 50_000,
};

/** One table's read, from the sandbox's request log. */
export interface TableRate {
  table: string;
  rows: number;
  requests: number;
  throttled: number;
  seconds: number;
  rowsPerSecond: number;
  requestsPerSecond: number;
  /** The pace of the read's middle (see {@link middleRate}); null for a read too short to have one. */
  middleRowsPerSecond: number | null;
}

export interface LatencyFigures {
  latencyMs: number;
  sliced: Record<string, TableRate>;
  single: Record<string, TableRate>;
  /** Per table: the bound and which one applies. */
  bounds: Record<string, { rowsPerSecond: number; kind: 'tier ceiling' | 'limits-off rate' }>;
  /** Sliced rate / bound, per table. */
  shares: Record<string, number>;
  /** The worker's peak RSS during the sliced run, MB (null where the kernel would not reset the peak). */
  slicedPeakRssMb: number | null;
}

export interface LatencyReport {
  options: LatencyOptions;
  baseline: Record<string, TableRate>;
  latencies: LatencyFigures[];
}

const TABLES = ['profiles', 'events'] as const;

/**
 * Limits-off runs the bound is taken from, the fastest per table. A fresh sandbox sorts a table's index on its first
 * read and a fresh worker compiles its code on its first pages, and the latency runs come after both: a bound from the
 * first run alone was lower than the machine's rate, and shares of it higher than they were.
 */
const BASELINE_RUNS = 2;

/** Per table, the faster of two measurements of the same reads. */
export function fastestRates(a: Record<string, TableRate>, b: Record<string, TableRate>): Record<string, TableRate> {
  const fastest: Record<string, TableRate> = { ...a };
  for (const [table, rate] of Object.entries(b)) {
    if (!fastest[table] || rate.rowsPerSecond > fastest[table].rowsPerSecond) fastest[table] = rate;
  }
  return fastest;
}

export async function runLatency(stack: BenchStack, options: LatencyOptions): Promise<LatencyReport> {
  const api = await stack.connectApi();
  const big = await startBenchSandbox(options.seed, { profiles: options.profiles, events: options.events });
  const small = await startBenchSandbox(options.seed, {
    profiles: options.singleProfiles,
    events: options.singleEvents,
  });
  try {
    process.env.KLAVIYO_RATE_LIMITS = 'off'; // the API's own key check reads it; the sandbox's limits are off then
    const latencies: LatencyFigures[] = options.latencies.map((latencyMs) => ({
      latencyMs,
      sliced: {},
      single: {},
      bounds: {},
      shares: {},
      slicedPeakRssMb: null,
    }));
    /** Runs `body` with a worker child of the stack's environment and `env`, stopped after. */
    const withWorker = async (env: NodeJS.ProcessEnv, log: string, body: (worker: WorkerChild) => Promise<void>) => {
      const worker = await startWorkerChild({ ...stack.env, ...env }, path.join(stack.dir, log));
      try {
        await body(worker);
      } finally {
        await worker.stop();
      }
    };
    /** Each latency's rates from `sandbox` with the limits on, as the figures' `kind`. */
    const atEachLatency = async (
      sandbox: SandboxProcess,
      kind: 'sliced' | 'single',
      words: string,
      worker: WorkerChild,
    ) => {
      for (const [position, figures] of latencies.entries()) {
        console.error(`bench: latency ${figures.latencyMs} ms, ${words}…`);
        // The position too: a latency can be given twice (`--latencies 1000,1000`), to see how runs vary.
        const name = `BenchLatency${kind === 'sliced' ? 'Sliced' : 'Single'}${figures.latencyMs}At${position}`;
        const reset = resetPeakRss(worker.workerPid);
        figures[kind] = await measure(api, sandbox, name, { limits: true, latencyMs: figures.latencyMs, options });
        if (kind === 'sliced' && reset) figures.slicedPeakRssMb = readRss(worker.workerPid).peakMb;
      }
    };
    let baseline: Record<string, TableRate> = {};
    await withWorker({}, 'worker-latency.log', async (worker) => {
      for (let run = 1; run <= BASELINE_RUNS; run++) {
        console.error(
          `bench: latency section, the limits-off rate (no latency, no limits), run ${run} of ${BASELINE_RUNS}…`,
        );
        const rates = await measure(api, big, `BenchLatencyBaseline${run}`, { limits: false, latencyMs: 0, options });
        console.error(`bench: limits-off run ${run}: ${ratesLine(rates)}`);
        baseline = fastestRates(baseline, rates);
      }
      await atEachLatency(big, 'sliced', 'sliced', worker);
    });
    await withWorker({ DATAFLOW_MAX_SLICES: '1' }, 'worker-latency-single.log', (worker) =>
      atEachLatency(small, 'single', 'one cursor per table', worker),
    );
    for (const figures of latencies) {
      for (const table of TABLES) {
        const rate = figures.sliced[table];
        const tier = RATE_TIERS[getTable(table).tier];
        // Every request a full page: the most rows the tier lets through.
        const ceiling = (tier.steady / 60) * (getTable(table).pageSize?.max ?? 1);
        const machine = baseline[table]?.rowsPerSecond ?? Infinity;
        const bound =
          machine < ceiling
            ? { rowsPerSecond: machine, kind: 'limits-off rate' as const }
            : { rowsPerSecond: ceiling, kind: 'tier ceiling' as const };
        figures.bounds[table] = bound;
        figures.shares[table] = rate ? rate.rowsPerSecond / bound.rowsPerSecond : 0;
      }
    }
    return { options, baseline, latencies };
  } finally {
    await Promise.allSettled([big.close(), small.close()]);
    await api.close();
  }
}

async function measure(
  api: DataflowApi,
  sandbox: SandboxProcess,
  name: string,
  run: { limits: boolean; latencyMs: number; options: LatencyOptions },
): Promise<Record<string, TableRate>> {
  // Created with the sandbox's limits off: the key check must not spend the run's windows.
  await sandbox.setRateLimits({ enabled: false });
  await sandbox.setLatency({});
  await api.create({
    name,
    apiKey: sandbox.keys.full,
    baseUrl: sandbox.baseUrl,
    tables: [...TABLES],
    // additional-fields[profile]=predictive_analytics moves profiles to the M tier: keep them in L.
    excludeFields: ['profiles.predictive_analytics'],
  });
  // Turning the limits on forgets every window: the run starts with Klaviyo's full budget.
  await sandbox.setRateLimits(run.limits ? { enabled: true, scale: 1 } : { enabled: false });
  if (run.latencyMs > 0) {
    await sandbox.setLatency({ baseMs: run.latencyMs, perKbMs: run.options.perKbMs, jitter: run.options.jitter });
  }
  await sandbox.resetRequestLog();
  const result = await timedRun(api, name);
  const log = await sandbox.requestLog();
  await sandbox.setLatency({});
  const rows = Object.fromEntries(result.result.tables.map((t) => [t.table, t.rows]));
  return Object.fromEntries(TABLES.map((table) => [table, tableRate(table, rows[table] ?? 0, log, run.limits)]));
}

/**
 * A table's read from the request log: from its first request to its last answer. With limits on and over a minute,
 * the rate is taken over the whole minutes from the first request (Klaviyo's steady windows), as bench/limits-run.ts
 * does per tier.
 */
export function tableRate(
  table: string,
  rows: number,
  log: readonly RequestLogEntry[],
  wholeMinutes: boolean,
): TableRate {
  const entries = log
    .filter((e) => e.table === table)
    .map((e) => ({ at: Date.parse(e.time), end: Date.parse(e.time) + e.durationMs, status: e.status, bytes: e.bytes }))
    .sort((a, b) => a.at - b.at);
  const answered = entries.filter((e) => e.status === 200);
  const throttled = entries.filter((e) => e.status === 429).length;
  if (answered.length === 0) {
    const none = { seconds: 0, rowsPerSecond: 0, requestsPerSecond: 0, middleRowsPerSecond: null };
    return { table, rows, requests: 0, throttled, ...none };
  }
  const first = entries[0].at;
  const last = Math.max(...entries.map((e) => e.end));
  const seconds = Math.max(0.001, (last - first) / 1000);
  const minutes = wholeMinutes ? Math.floor(seconds / 60) : 0;
  const perRequest = rows / answered.length;
  const counted = minutes > 0 ? answered.filter((e) => e.at < first + minutes * 60_000).length : answered.length;
  const requestsPerSecond = counted / (minutes > 0 ? minutes * 60 : seconds);
  return {
    table,
    rows,
    requests: answered.length,
    throttled,
    seconds,
    rowsPerSecond: requestsPerSecond * perRequest,
    requestsPerSecond,
    middleRowsPerSecond: middleRate(rows, answered),
  };
}

/**
 * The pace of a read's middle: its rows from the answer that brought the first tenth of its bytes to the one that
 * brought the ninth, a page's rows taken as its share of the bytes. A read's first round trips (the run's scope probe,
 * the first page it splits at) and its tail (fewer chains left) are the same few seconds in a read of hours as in the
 * bench's of seconds; this shows the pace between them beside the whole read's rate. Null when the middle has no
 * length (a read of one or two answers).
 */
export function middleRate(rows: number, answers: readonly { end: number; bytes: number }[]): number | null {
  const sorted = [...answers].sort((a, b) => a.end - b.end);
  const total = sorted.reduce((sum, a) => sum + a.bytes, 0);
  const when = (share: number): number | undefined => {
    let sum = 0;
    return sorted.find((a) => (sum += a.bytes) >= total * share)?.end;
  };
  const [from, to] = [when(0.1), when(0.9)];
  if (from === undefined || to === undefined || to <= from || total === 0) return null;
  return (0.8 * rows) / ((to - from) / 1000);
}

const percent = (share: number) => `${Math.round(share * 100)}%`;
const rate = (n: number) => Math.round(n).toLocaleString('en-US');
/** Each table's rate, as `profiles 1,207 rows/s, events 20,727 rows/s`. */
const ratesLine = (rates: Record<string, TableRate>) =>
  TABLES.map((t) => `${t} ${rate(rates[t]?.rowsPerSecond ?? 0)} rows/s`).join(', ');
const middle = (r: TableRate) => (r.middleRowsPerSecond === null ? '' : ` (middle ${rate(r.middleRowsPerSecond)})`);

export function formatLatency(report: LatencyReport): string {
  const o = report.options;
  const lines = [
    `Latency (real limits, sandbox latency model: median per answer as below, jitter σ ${o.jitter}, ` +
      `${o.perKbMs} ms per KB; sliced runs ${o.profiles} profiles + ${o.events} events, one-cursor runs ` +
      `${o.singleProfiles} + ${o.singleEvents})`,
    `  limits-off rate (no latency; the faster of ${BASELINE_RUNS} runs): ${ratesLine(report.baseline)}`,
  ];
  for (const f of report.latencies) {
    const rss = f.slicedPeakRssMb === null ? '' : ` (worker peak RSS ${Math.round(f.slicedPeakRssMb)} MB sliced)`;
    lines.push(`  latency ${f.latencyMs} ms${rss}`);
    for (const table of TABLES) {
      const s = f.sliced[table];
      const one = f.single[table];
      const bound = f.bounds[table];
      if (!s || !bound) continue;
      const gain = one && one.rowsPerSecond > 0 ? `${(s.rowsPerSecond / one.rowsPerSecond).toFixed(1)}×` : 'n/a';
      lines.push(
        `    ${table.padEnd(8)} sliced ${rate(s.rowsPerSecond)} rows/s${middle(s)}, ${s.requestsPerSecond.toFixed(1)} req/s, ` +
          `${percent(f.shares[table])} of ${bound.kind} ${rate(bound.rowsPerSecond)} rows/s; ` +
          `one cursor ${rate(one?.rowsPerSecond ?? 0)} rows/s, ${(one?.requestsPerSecond ?? 0).toFixed(1)} req/s ` +
          `(gain ${gain}); 429s ${s.throttled + (one?.throttled ?? 0)}`,
      );
    }
    lines.push(
      `latency ${f.latencyMs} ms: profiles ${percent(f.shares.profiles ?? 0)} events ${percent(f.shares.events ?? 0)} of bound`,
    );
  }
  return lines.join('\n');
}
