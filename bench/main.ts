import { Command, InvalidArgumentError } from 'commander';
import { startBenchStack } from './bench-stack';
import { formatCopyPath, measureCopyPath } from './copy-path';
import { runEndToEnd } from './end-to-end';
import { DEFAULT_LATENCY_OPTIONS, formatLatency, runLatency } from './latency-run';
import { runLimits } from './limits-run';
import { formatEndToEnd, formatLimits } from './report';
import { formatScaleOut, runScaleOut } from './scale-out';
import { positiveInt } from '../shared/number-options';
import { projectRoot } from '../stack/project-root';
import { buildWorker } from '../worker/worker-command';

/**
 * `npm run bench -- [--profiles N] [--events M] [--limits-seconds S] [--skip-limits] [--skip-end-to-end]
 *  [--copy-path-rows N] [--skip-copy-path] [--skip-latency] [--latencies 300,100,1000] [--latency-profiles N]
 *  [--latency-events M] [--latency-jitter σ] [--latency-per-kb ms] [--scale-out-workers W] [--scale-out-minutes T]
 *  [--skip-scale-out]`
 *
 * Builds the worker (`npm run build`), then starts its own Temporal dev server, a scratch database (on DATABASE_URL's
 * server, else an embedded Postgres), the sandbox and the worker as child processes; prints the figures on stdout,
 * progress on stderr.
 */

function msList(value: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new InvalidArgumentError('expected milliseconds separated by commas, e.g. 300,100,1000');
  }
  return list;
}

async function main(): Promise<void> {
  const options = new Command('bench')
    .description('End-to-end throughput against its floors, worker memory, and request rates under Klaviyo limits')
    .option('--profiles <n>', 'profiles in the end-to-end run', positiveInt, 50_000)
    .option('--events <n>', 'events in the end-to-end run', positiveInt, 250_000)
    .option('--limits-seconds <s>', 'how long each table of the limits run keeps requesting', positiveInt, 75)
    .option('--seed <n>', 'sandbox seed', positiveInt, 7)
    .option('--skip-limits', 'leave out the run under rate limits', false)
    .option('--skip-end-to-end', 'leave out the end-to-end run and its floors', false)
    .option('--scale-out-workers <n>', 'worker processes in the scale-out run', positiveInt, 3)
    .option('--scale-out-minutes <n>', "minutes of each tier's limit the scale-out run needs", positiveInt, 2)
    .option('--skip-scale-out', 'leave out the scale-out run (several workers, one account, limits on)', false)
    .option('--copy-path-rows <n>', 'event rows of the load-path measurement', positiveInt, 100_000)
    .option('--skip-copy-path', 'leave out the load path against a bare COPY', false)
    .option('--skip-latency', 'leave out the reads with real limits and latency', false)
    .option('--latencies <ms,...>', 'median latencies of the latency section, headline first', msList, [
      ...DEFAULT_LATENCY_OPTIONS.latencies,
    ])
    .option(
      '--latency-profiles <n>',
      'profiles of the sliced latency runs',
      positiveInt,
      DEFAULT_LATENCY_OPTIONS.profiles,
    )
    .option('--latency-events <n>', 'events of the sliced latency runs', positiveInt, DEFAULT_LATENCY_OPTIONS.events)
    .option('--latency-jitter <sigma>', 'σ of the latency jitter', Number, DEFAULT_LATENCY_OPTIONS.jitter)
    .option('--latency-per-kb <ms>', 'latency added per KB of answer', Number, DEFAULT_LATENCY_OPTIONS.perKbMs)
    .option('--worker-cpu-prof <dir>', 'profile the end-to-end worker (node --cpu-prof) into this directory')
    .option('--database-url <url>', 'Postgres server for a scratch database (default: DATABASE_URL, else embedded)')
    .parse()
    .opts<{
      profiles: number;
      events: number;
      limitsSeconds: number;
      seed: number;
      skipLimits: boolean;
      skipEndToEnd: boolean;
      scaleOutWorkers: number;
      scaleOutMinutes: number;
      skipScaleOut: boolean;
      copyPathRows: number;
      skipCopyPath: boolean;
      skipLatency: boolean;
      latencies: number[];
      latencyProfiles: number;
      latencyEvents: number;
      latencyJitter: number;
      latencyPerKb: number;
      databaseUrl?: string;
      workerCpuProf?: string;
    }>();

  console.error('bench: building the worker (npm run build)…');
  await buildWorker(projectRoot());
  const stack = await startBenchStack({ databaseUrl: options.databaseUrl ?? process.env.DATABASE_URL });
  try {
    const sections: string[] = [];
    if (!options.skipEndToEnd) {
      const figures = await runEndToEnd(stack, options);
      sections.push(formatEndToEnd(figures, options));
    }
    if (!options.skipCopyPath) {
      console.error(`bench: the load path against a bare COPY, ${options.copyPathRows} rows…`);
      sections.push(formatCopyPath(await measureCopyPath(stack.databaseUrl, options.copyPathRows)));
    }
    if (!options.skipLimits) {
      const figures = await runLimits(stack, { seconds: options.limitsSeconds, seed: options.seed });
      sections.push(formatLimits(figures));
    }
    if (!options.skipLatency) {
      const report = await runLatency(stack, {
        ...DEFAULT_LATENCY_OPTIONS,
        seed: options.seed,
        profiles: options.latencyProfiles,
        events: options.latencyEvents,
        latencies: options.latencies,
        jitter: options.latencyJitter,
        perKbMs: options.latencyPerKb,
      });
      sections.push(formatLatency(report));
    }
    if (!options.skipScaleOut) {
      // A quarter of a window more than the whole minutes, so the last measured minute still has work after it.
      const figures = await runScaleOut(stack, {
        workers: options.scaleOutWorkers,
        windows: options.scaleOutMinutes + 0.25,
        seed: options.seed,
      });
      sections.push(formatScaleOut(figures));
    }
    process.stdout.write(`\n${sections.join('\n\n')}\n`);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
