import { getTable } from '../../klaviyo/catalog';
import { CONTROL_TABLES } from '../../control-plane/control-schema';
import { SLICE_BATCH_PAGES } from '../../activities/extract-slices';
import type { RequestLogEntry } from '../../sandbox/server';
import type { RunResult } from '../../shared/operations';
import { startTestEngine, type TestEngine } from '../support/engine';
import { workerProcesses } from './worker-process';

/**
 * A worker process killed with SIGKILL in the middle of a large table read as parallel slices (answers take 250 ms,
 * so the tier's rate needs eight or more slices in flight): once the heartbeat timeout (5 s) tells Temporal the
 * activity is lost, another worker process resumes every slice from its Postgres checkpoint and finishes the run
 * with exactly the sandbox's rows.
 */
const EVENTS = 300_000;
/** Kill once this many rows are committed and this many slices are unfinished. */
const KILL_AFTER_ROWS = 60_000;
const KILL_WITH_SLICES = 8;
const LATENCY_MS = 250;
const NAME = 'CrashDemo';

const events = getTable('events');
const pageSize = events.pageSize?.max ?? 1;

let engine: TestEngine;
const workers = workerProcesses(() => engine.env);
let killedAt: { rows: number; pages: number; done: boolean; open: number } | undefined;
let result: RunResult | undefined;
let workflowId = '';

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { events: EVENTS }, latency: { baseMs: LATENCY_MS } },
  });
}, 120_000);

afterAll(async () => {
  await workers.killAll();
  await engine?.stop();
});

/** The slices' checkpoints of events, summed; `open` counts the slices not done. */
async function checkpoint(): Promise<{ rows: number; pages: number; done: boolean; open: number } | undefined> {
  const { rows } = await engine.api.pool.query<{ rows: string; pages: number; done: boolean }>(
    `SELECT rows, pages, done FROM ${CONTROL_TABLES.checkpoints} WHERE table_name = 'events'`,
  );
  if (rows.length === 0) return undefined;
  return {
    rows: rows.reduce((n, r) => n + Number(r.rows), 0),
    pages: rows.reduce((n, r) => n + r.pages, 0),
    done: rows.every((r) => r.done),
    open: rows.filter((r) => !r.done).length,
  };
}

/** Extraction requests for events pages (the key check's one-row probes and the slicer's last-second probe left out). */
function pageRequests(log: readonly RequestLogEntry[]): RequestLogEntry[] {
  return log.filter(
    (e) =>
      e.table === 'events' && e.status === 200 && new URLSearchParams(e.query).get('page[size]') === String(pageSize),
  );
}

/** The slice a page request belongs to: its range filter (a chain's links keep it). */
const sliceOf = (e: RequestLogEntry) => new URLSearchParams(e.query).get('filter') ?? '(whole table)';
const pageOf = (e: RequestLogEntry) => `${e.path}?${e.query}`;
let beforeKill: RequestLogEntry[] = [];

test('a run survives its worker being killed mid-table and a new worker finishes it', async () => {
  const first = workers.start();
  await first.ready;
  await engine.api.create({
    name: NAME,
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['events'],
  });
  engine.sandbox.resetRequestLog();
  const run = await engine.api.run(NAME);
  workflowId = run.workflowId;

  const deadline = Date.now() + 120_000;
  let seen = await checkpoint();
  while (!seen || seen.rows < KILL_AFTER_ROWS || seen.open < KILL_WITH_SLICES) {
    if (Date.now() > deadline) throw new Error(`No progress to kill at: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 50));
    seen = await checkpoint();
  }
  await first.kill('SIGKILL');
  killedAt = await checkpoint();
  // Requests the dead worker had in flight are logged when the sandbox answers them: they count as fetched before.
  await new Promise((r) => setTimeout(r, 4 * LATENCY_MS));
  beforeKill = pageRequests(engine.sandbox.requestLog());
  expect(killedAt?.done).toBe(false);
  expect(killedAt?.open).toBeGreaterThanOrEqual(KILL_WITH_SLICES);

  const killed = performance.now();
  await workers.start().ready;
  result = await engine.api.waitForRun(run);
  console.log(
    `worker-crash: killed at ${killedAt?.rows} rows (${killedAt?.pages} pages, ${killedAt?.open} slices open); ` +
      `the run completed ${((performance.now() - killed) / 1000).toFixed(1)} s later`,
  );
  expect(result.tables.find((t) => t.table === 'events')?.rows).toBe(EVENTS);
}, 240_000);

test('the extraction was retried, not restarted as a new run', async () => {
  const history = await (await engine.temporal.client()).workflow.getHandle(workflowId).fetchHistory();
  const scheduled = (history.events ?? []).find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'extractTable',
  );
  const started = (history.events ?? []).find(
    (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled?.eventId?.toString(),
  );
  expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(2);
});

test('the warehouse holds exactly the sandbox events, none twice', async () => {
  expect(engine.sandbox.expectedCount('events')).toBe(EVENTS);
  const entities = await engine.api.entities(NAME);
  expect(entities.find((e) => e.table === 'events')?.rows).toBe(EVENTS);
  const { rows } = await engine.api.pool.query<{ id: string }>('SELECT id FROM crashdemo.events');
  const ids = new Set(rows.map((r) => r.id));
  expect(ids.size).toBe(rows.length);
  const expected = new Set<string>();
  for await (const id of engine.sandbox.expectedIds('events')) expected.add(id);
  expect(rows.filter((r) => !expected.has(r.id))).toEqual([]);
  expect(ids.size).toBe(expected.size);
});

test('the new worker re-fetched no more than two checkpoint intervals of pages per slice', () => {
  const before = new Set(beforeKill.map(pageOf));
  const after = pageRequests(engine.sandbox.requestLog()).slice(beforeKill.length);
  // Pages asked for again after the kill, per slice (a page is its URL: the slice's filter and its cursor).
  const again = new Map<string, Set<string>>();
  for (const entry of after) {
    if (!before.has(pageOf(entry))) continue;
    const pages = again.get(sliceOf(entry)) ?? new Set<string>();
    pages.add(pageOf(entry));
    again.set(sliceOf(entry), pages);
  }
  const counts = [...again.values()].map((pages) => pages.size);
  console.log(
    `worker-crash: ${new Set(beforeKill.map(sliceOf)).size} slices read before the kill; pages fetched again per ` +
      `slice: ${counts.join(', ') || 'none'} (checkpoint every ${SLICE_BATCH_PAGES} pages, at most ` +
      `${2 * SLICE_BATCH_PAGES} allowed)`,
  );
  expect(Math.max(0, ...counts)).toBeLessThanOrEqual(2 * SLICE_BATCH_PAGES);
});
