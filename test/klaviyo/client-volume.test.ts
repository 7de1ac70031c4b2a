import { getTable } from '../../klaviyo/catalog';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import { IdDigest } from './id-digest';
import { startSandboxProcess, type SandboxProcess } from '../../sandbox/child-process';

/**
 * Volume: a million events and a hundred thousand profiles through the client, over real HTTP, with
 * rows counted and ids fingerprinted on the fly (no million-element array), throughput and peak RSS
 * printed, and memory shown not to grow with the number of rows. The sandbox runs in its own process, so the RSS
 * measured here is the client's.
 */

const PROFILES = 100_000;
const EVENTS = 1_000_000;
const SMALL_READ_PAGES = 100; // 100,000 events at 1,000 per page

let sandbox: SandboxProcess;
let client: KlaviyoClient;

beforeAll(async () => {
  sandbox = await startSandboxProcess([
    '--seed',
    '11',
    '--no-rate-limits',
    '--profiles',
    String(PROFILES),
    '--events',
    String(EVENTS),
  ]);
  // The sandbox's limits are off: this measures throughput and memory, not pacing.
  client = new KlaviyoClient({ apiKey: sandbox.keys.full, baseUrl: sandbox.baseUrl, rateLimits: { enabled: false } });
});

afterAll(async () => {
  client.close();
  await sandbox.close();
});

interface ReadFigures {
  rows: number;
  pages: number;
  bytes: number;
  seconds: number;
  digest: string;
  /** Highest RSS seen during the read, minus RSS just before it, in MB. */
  rssGrowthMb: number;
  peakRssMb: number;
}

const mb = (bytes: number) => bytes / 2 ** 20;

async function measuredRead(table: string, maxPages = Infinity): Promise<ReadFigures> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const sampler = setInterval(sample, 25);
  const digest = new IdDigest();
  let pages = 0;
  let bytes = 0;
  const started = performance.now();
  try {
    for await (const page of client.pages({ table: getTable(table) })) {
      for (const row of page.data) digest.add(row.id);
      pages++;
      bytes += page.bytes;
      sample();
      if (pages >= maxPages) break;
    }
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    rows: digest.count,
    pages,
    bytes,
    seconds,
    digest: digest.value,
    rssGrowthMb: mb(peak - before),
    peakRssMb: mb(peak),
  };
}

function print(label: string, f: ReadFigures): void {
  console.log(
    `${label}: ${f.rows.toLocaleString('en')} rows in ${f.pages} pages, ${f.seconds.toFixed(1)} s, ` +
      `${Math.round(f.rows / f.seconds).toLocaleString('en')} rows/s, ${(mb(f.bytes) / f.seconds).toFixed(1)} MB/s, ` +
      `peak RSS ${f.peakRssMb.toFixed(0)} MB (+${f.rssGrowthMb.toFixed(0)} MB during the read)`,
  );
}

async function expectedDigest(table: string): Promise<string> {
  const digest = new IdDigest();
  for await (const id of sandbox.expectedIds(table)) digest.add(id);
  return digest.value;
}

let smallEventRead: ReadFigures;

it('reads 100,000 profiles, every sandbox id exactly once', async () => {
  const figures = await measuredRead('profiles');
  print('profiles', figures);
  expect(figures.rows).toBe(PROFILES);
  expect(figures.digest).toBe(await expectedDigest('profiles'));
});

it('reads a first 100,000 events as the smaller read to compare memory with', async () => {
  smallEventRead = await measuredRead('events', SMALL_READ_PAGES);
  print('events, first 100 pages', smallEventRead);
  expect(smallEventRead.rows).toBe(SMALL_READ_PAGES * 1000);
});

it('reads 1,000,000 events, every sandbox id exactly once, in memory that does not grow with the row count', async () => {
  const figures = await measuredRead('events');
  print('events', figures);
  expect(figures.rows).toBe(EVENTS);
  expect(figures.digest).toBe(await expectedDigest('events'));
  // Ten times the rows of the smaller read may not raise the peak, give or take GC noise: a client that kept
  // even 100 bytes per row would add ~95 MB here.
  console.log(
    `peak RSS: ${smallEventRead.peakRssMb.toFixed(0)} MB after 100,000 events, ${figures.peakRssMb.toFixed(0)} MB after 1,000,000`,
  );
  expect(figures.peakRssMb).toBeLessThan(smallEventRead.peakRssMb + 50);
}, 300_000);
