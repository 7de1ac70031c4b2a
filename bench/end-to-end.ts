import path from 'node:path';
import { getTable } from '../klaviyo/catalog';
import { KlaviyoClient } from '../klaviyo/klaviyo-client';
import { getTables } from '../control-plane/dataflow-tables';
import { warehouseSchemaName } from '../control-plane/dataflow-name';
import { selectedLayout } from '../activities/extract-table';
import { startBenchSandbox, type BenchStack } from './bench-stack';
import { measureCopyFloor, type CopyFloor } from './copy-floor';
import { measureHttpFloor, type HttpFloor } from './http-floor';
import { startWorkerChild } from './worker-child';
import { readRss, resetPeakRss, RssSampler } from './worker-rss';
import { timedRun, type TimedRun } from './run-timing';
import { scrapeMetrics, summarizeMetrics, type MetricsSummary } from './metrics-scrape';
import { findFreePort } from '../stack/free-port';

export interface EndToEndOptions {
  profiles: number;
  events: number;
  /** Sandbox seed. */
  seed: number;
  /** Write a CPU profile of the worker into this directory. */
  workerCpuProf?: string;
}

export interface EndToEndFigures {
  run: TimedRun;
  httpFloor: HttpFloor;
  copyFloor: CopyFloor;
  worker: {
    /** Peak RSS while starting (webpack bundles the workflows then), MB. */
    startupPeakMb: number;
    /** Peak RSS during the run (VmHWM reset when the run starts), MB; null when the kernel refused the reset. */
    runPeakMb: number | null;
    firstHalfMaxMb: number;
    secondHalfMaxMb: number;
  };
  /** The worker's metrics endpoint, scraped when the run ended. */
  metrics: MetricsSummary;
}

const TABLES = ['profiles', 'events'] as const;
const NAME = 'BenchEndToEnd';

/**
 * A dataflow of profiles and events through the whole product (sandbox limits off), with the floors
 * measured in the same process tree: (a) the same pages over a bare HTTP loop, before the run; (b) the
 * same rows with a bare COPY, after it.
 */
export async function runEndToEnd(stack: BenchStack, options: EndToEndOptions): Promise<EndToEndFigures> {
  const sandbox = await startBenchSandbox(options.seed, { profiles: options.profiles, events: options.events });
  const api = await stack.connectApi();
  try {
    process.env.KLAVIYO_RATE_LIMITS = 'off'; // the API's own key check reads it
    const dataflow = await api.create({
      name: NAME,
      apiKey: sandbox.keys.full,
      baseUrl: sandbox.baseUrl,
      tables: [...TABLES],
    });
    const selections = (await getTables(api.pool, dataflow.id)).filter((t) => t.selected);

    // The engine's first URLs: all selected fields, the largest page size (see extract-table.ts).
    const urlBuilder = new KlaviyoClient({ apiKey: sandbox.keys.full, baseUrl: sandbox.baseUrl });
    const firstUrls = Object.fromEntries(
      selections.map((s) => [s.table, urlBuilder.pageUrl({ table: getTable(s.table), fields: s.selectedFields })]),
    );
    urlBuilder.close();
    // Warm the sandbox (its first read of a table sorts its index) so neither side pays for it.
    await measureHttpFloor(firstUrls, sandbox.keys.full, 1);
    console.error('bench: floor (a), the HTTP loop…');
    const httpFloor = await measureHttpFloor(firstUrls, sandbox.keys.full);

    const metricsPort = await findFreePort();
    const worker = await startWorkerChild(
      { ...stack.env, KLAVIYO_RATE_LIMITS: 'off', DATAFLOW_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` },
      path.join(stack.dir, 'worker-e2e.log'),
      options.workerCpuProf,
    );
    let run: TimedRun;
    let workerFigures: EndToEndFigures['worker'];
    let metrics: MetricsSummary;
    try {
      const startupPeakMb = readRss(worker.workerPid).peakMb;
      const reset = resetPeakRss(worker.workerPid);
      const sampler = new RssSampler(worker.workerPid);
      console.error(`bench: end-to-end run of ${options.profiles} profiles and ${options.events} events…`);
      try {
        run = await timedRun(api, NAME);
      } finally {
        const halves = sampler.stop();
        workerFigures = { startupPeakMb, runPeakMb: reset ? readRss(worker.workerPid).peakMb : null, ...halves };
      }
      metrics = summarizeMetrics(await scrapeMetrics([`http://127.0.0.1:${metricsPort}/metrics`]), 1);
    } finally {
      await worker.stop();
    }

    console.error('bench: floor (b), bare COPY…');
    const copyFloor = await measureCopyFloor({
      databaseUrl: stack.databaseUrl,
      schema: warehouseSchemaName(NAME),
      version: run.result.version,
      columns: Object.fromEntries(selections.map((s) => [s.table, selectedLayout(s).columns.map((c) => c.name)])),
      dir: stack.dir,
    });
    return { run, httpFloor, copyFloor, worker: workerFigures, metrics };
  } finally {
    await api.close();
    await sandbox.close();
  }
}
