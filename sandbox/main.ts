import { Command, InvalidArgumentError } from 'commander';
import { nonNegativeInt, positiveNumber } from '../shared/number-options';
import { parseDurationMs } from './http/latency';
import { SIZE_KEYS, type SandboxSizes } from './sizes';
import { startSandbox } from './server';

/**
 * `npm run --silent sandbox -- --port 8180 --seed 7 --profiles 100000 --events 1000000`
 *
 * Prints one JSON line first (with `--silent`, or run as `tsx sandbox/main.ts`: without it npm prints its own
 * `> klaviyo-dataflows sandbox` banner to stdout before it) — `{"baseUrl": ..., "keys": {"full", "readOnly", "noProfiles"}}` — so a parent process
 * can read where the sandbox listens; human-readable notes go to stderr. Runs until SIGINT/SIGTERM.
 */

/** `catalogVariantsPerItem` → `--catalog-variants-per-item`. */
function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function durationOption(value: string): number {
  try {
    return parseDurationMs(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number, 0 or more');
  return n;
}

async function main(): Promise<void> {
  const program = new Command('sandbox')
    .description('Klaviyo sandbox: a local stand-in for the Klaviyo REST API (revision 2026-07-15)')
    .option('--port <port>', 'port to listen on (0 = any free port)', nonNegativeInt, 0)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--seed <seed>', 'data and key seed', nonNegativeInt, 1)
    .option('--no-rate-limits', 'turn rate limiting off')
    .option('--rate-scale <factor>', 'multiply every rate limit by this factor', positiveNumber, 1)
    .option('--reports-per-day <n>', "the Reporting API's daily quota (always counted)", nonNegativeInt, 225)
    .option(
      '--report-day-seconds <n>',
      "the length of the report quota's rolling day, in seconds",
      positiveNumber,
      86_400,
    )
    .option('--latency <duration>', 'median time of an empty answer, e.g. 300ms (off by default)', durationOption, 0)
    .option('--latency-per-kb <duration>', 'time added per KB of answer, e.g. 0.5ms', durationOption, 0)
    .option('--latency-jitter <sigma>', 'σ of the log-normal jitter around the median, e.g. 0.25', nonNegativeNumber, 0)
    .option('--hostile', 'add control characters, NUL and injection-looking strings to the data', false)
    .option('--start-time <iso>', 'sandbox clock before any advance', '2026-01-01T00:00:00Z')
    .option('--revisions-as-of <day>', 'the day revisions are judged on (deprecated, retired)', '2026-10-15')
    .option('--request-log <n>', 'requests the request log keeps (the oldest are dropped)', nonNegativeInt, 10_000);
  for (const key of SIZE_KEYS) program.option(`--${flagOf(key)} <n>`, `size: ${key}`, nonNegativeInt);
  program.parse();
  const opts = program.opts<Record<string, unknown>>();

  const sizes: Partial<SandboxSizes> = {};
  for (const key of SIZE_KEYS) if (typeof opts[key] === 'number') sizes[key] = opts[key] as number;

  const sandbox = await startSandbox({
    port: opts.port as number,
    host: opts.host as string,
    seed: opts.seed as number,
    sizes,
    rateLimits: {
      enabled: opts.rateLimits as boolean,
      scale: opts.rateScale as number,
      reportsPerDay: opts.reportsPerDay as number,
      reportDaySeconds: opts.reportDaySeconds as number,
    },
    latency: {
      baseMs: opts.latency as number,
      perKbMs: opts.latencyPerKb as number,
      jitter: opts.latencyJitter as number,
    },
    hostile: opts.hostile as boolean,
    startTime: opts.startTime as string,
    revisionsAsOf: opts.revisionsAsOf as string,
    requestLogCapacity: Math.max(1, opts.requestLog as number),
  });
  process.stdout.write(JSON.stringify({ baseUrl: sandbox.baseUrl, keys: sandbox.keys }) + '\n');
  console.error(`Klaviyo sandbox listening on ${sandbox.baseUrl} (admin API under /__sandbox/)`);

  const stop = (signal: string) => {
    console.error(`${signal}: closing the sandbox`);
    sandbox.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
