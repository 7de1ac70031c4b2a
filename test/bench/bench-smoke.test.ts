import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_TEST_DATABASE_URL } from '../support/database';

/**
 * `npm run bench` at tiny sizes, as a process: it must print the end-to-end table and a ratio. Speed is
 * not asserted (a shared machine's timing would make the test flaky); the figures' presence and form are.
 */
const ROOT = path.resolve(__dirname, '../..');
let stdout: string;

beforeAll(async () => {
  const result = await promisify(execFile)(
    path.join(ROOT, 'node_modules/.bin/tsx'),
    // The latency section reads with real limits for minutes: the bench's own to run, not CI's.
    [
      'bench/main.ts',
      '--profiles',
      '2000',
      '--events',
      '10000',
      '--skip-limits',
      '--skip-latency',
      // The scale-out section (three workers under Klaviyo's limits) takes minutes too; test/engine/scale-out.test.ts
      // runs it in CI at a third of the limits.
      '--skip-scale-out',
      '--copy-path-rows',
      '3000',
    ],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL },
      timeout: 240_000,
      maxBuffer: 10 * 2 ** 20,
    },
  );
  stdout = result.stdout;
}, 300_000);

/** A table's row: rows, the engine's pages, and the pages floor (a) read. */
function tableRow(table: string): { rows: number; pages: number; floorPages: number } {
  const row = new RegExp(
    `^${table}\\s+([\\d,]+)\\s+(\\d+)\\s+\\d+\\s+[\\d.]+\\s+[\\d,]+\\s+[\\d.]+\\s+(\\d+)\\s`,
    'm',
  ).exec(stdout);
  if (!row) throw new Error(`no row for ${table} in:\n${stdout}`);
  return { rows: Number(row[1].replace(/,/g, '')), pages: Number(row[2]), floorPages: Number(row[3]) };
}

test('the bench prints a row per table with the sandbox row counts', () => {
  // Floor (a) reads each table on one cursor: 2,000 profiles in pages of 100, 10,000 events in pages of 1,000. The
  // engine may read a few pages more, as a sliced read asks again for the part of a page past each cut.
  expect(tableRow('profiles')).toEqual({ rows: 2000, pages: expect.any(Number), floorPages: 20 });
  expect(tableRow('events')).toEqual({ rows: 10000, pages: expect.any(Number), floorPages: 10 });
  expect(tableRow('profiles').pages).toBeGreaterThanOrEqual(20);
  expect(tableRow('events').pages).toBeGreaterThanOrEqual(10);
  expect(stdout).toMatch(/^total \(wall\)\s+12,000\s/m);
});

test('the bench prints the ratio of end-to-end time to the larger floor', () => {
  expect(stdout).toMatch(/RATIO end-to-end \/ max\(floor a, floor b\) = [\d.]+ \/ [\d.]+ \(floor [ab]\) = \d+\.\d\d/);
});

test('the bench prints the worker peak RSS in MB', () => {
  expect(stdout).toMatch(/WORKER PEAK RSS during the run: \d+ MB/);
});

test('the bench prints the load path against a bare COPY of the same rows, with its ratio', () => {
  expect(stdout).toMatch(/^COPY PATH — 3,000 event rows from memory/m);
  expect(stdout).toMatch(/^RATIO bare \/ extraction seconds = \d+\.\d\d {2}\(target ≥ 0\.33: (met|NOT met)\)$/m);
});

test("the bench scrapes the worker's metrics endpoint at the end of the run and prints non-zero counters", () => {
  expect(stdout).toMatch(
    /^METRICS scraped from 1 worker endpoint\(s\) at the end of the section \(SDK metrics present\):$/m,
  );
  // The end-to-end run reads profiles (L) and events (XL) with the budget off: requests, rows and pages per tier.
  for (const tier of ['L', 'XL']) {
    const line = new RegExp(
      `^ {2}tier ${tier}: requests ([\\d,]+), 429s 0, rows ([\\d,]+), pages ([\\d,]+), `,
      'm',
    ).exec(stdout);
    expect(line).not.toBeNull();
    const [requests, rows, pages] = (line ?? []).slice(1).map((n) => Number(n.replace(/,/g, '')));
    expect({ tier, requests: requests > 0, rows: rows > 0, pages: pages > 0 }).toEqual({
      tier,
      requests: true,
      rows: true,
      pages: true,
    });
  }
  expect(stdout).toMatch(/^ {2}tier L: .*rows 2,000, /m);
  expect(stdout).toMatch(/^ {2}tier XL: .*rows 10,000, /m);
  const totals = /^ {2}extractions (\d+) \(([\d.]+) s in all\); runs (\d+) \(([\d.]+) s in all\)$/m.exec(stdout);
  expect(totals?.slice(1).map(Number)).toEqual([2, expect.any(Number), 1, expect.any(Number)]);
  expect(Number(totals?.[2])).toBeGreaterThan(0);
  expect(Number(totals?.[4])).toBeGreaterThan(0);
});
