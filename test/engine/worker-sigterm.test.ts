import { getTable } from '../../klaviyo/catalog';
import { CONTROL_TABLES } from '../../control-plane/control-schema';
import { SLICE_BATCH_PAGES } from '../../activities/extract-slices';
import type { RequestLogEntry } from '../../sandbox/server';
import { startTestEngine, type TestEngine } from '../support/engine';
import { workerProcesses } from './worker-process';

/**
 * A worker process stopped with SIGTERM (a deploy, a scale-down) in the middle of a large table: it hands the table
 * back at once, as a retryable WorkerShutdown failure, and exits; a second worker resumes it from the checkpoint, without
 * waiting for a heartbeat timeout and without reading from page 1 again.
 */
const EVENTS = 200_000;
const STOP_AFTER_ROWS = 40_000;
const NAME = 'SigtermDemo';
const pageSize = getTable('events').pageSize?.max ?? 1;
/** Events pages the extraction asked for (the key check's one-row probes and the slicer's last-second probe left out). */
const pageRequests = (log: readonly RequestLogEntry[]) =>
  log.filter(
    (e) =>
      e.table === 'events' && e.status === 200 && new URLSearchParams(e.query).get('page[size]') === String(pageSize),
  );
const pageOf = (e: RequestLogEntry) => `${e.path}?${e.query}`;
/** The slice a page belongs to: its range filter, which a chain's links keep. */
const sliceOf = (e: RequestLogEntry) => new URLSearchParams(e.query).get('filter') ?? '(whole table)';

let engine: TestEngine;
const workers = workerProcesses(() => engine.env);

beforeAll(async () => {
  engine = await startTestEngine({ worker: false, sandbox: { sizes: { events: EVENTS } } });
}, 120_000);

afterAll(async () => {
  await workers.killAll();
  await engine?.stop();
});

/** Rows committed, over every slice of events. */
async function committedRows(): Promise<number> {
  const { rows } = await engine.api.pool.query<{ rows: string }>(
    `SELECT rows FROM ${CONTROL_TABLES.checkpoints} WHERE table_name = 'events'`,
  );
  return rows.reduce((n, r) => n + Number(r.rows), 0);
}

test('SIGTERM hands an extraction back at its checkpoint; another worker finishes it', async () => {
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
  const deadline = Date.now() + 120_000;
  while ((await committedRows()) < STOP_AFTER_ROWS) {
    if (Date.now() > deadline) throw new Error('No progress to stop at');
    await new Promise((r) => setTimeout(r, 50));
  }
  const second = workers.start();
  await second.ready;
  const stopped = performance.now();
  process.kill(first.pid, 'SIGTERM');
  // It exits by itself, cleanly, well before a kill would be needed.
  expect(await first.exited).toBe(0);
  const exitSeconds = (performance.now() - stopped) / 1000;
  const beforeStop = pageRequests(engine.sandbox.requestLog());
  expect(first.output()).toContain('worker: SIGTERM: handing back extractions');
  const result = await engine.api.waitForRun(run);
  console.log(`worker-sigterm: the stopped worker exited ${exitSeconds.toFixed(1)} s after SIGTERM`);
  expect(result.tables.find((t) => t.table === 'events')?.rows).toBe(EVENTS);

  // The history keeps the last attempt: the second, started after the first failed as handed back (not timed out).
  const history = await (await engine.temporal.client()).workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  const started = (history.events ?? [])
    .map((e) => e.activityTaskStartedEventAttributes)
    .find((a) => a && a.attempt === 2);
  expect(started?.lastFailure?.message).toContain('The worker shut down');

  // Per slice, the pages the second worker asked for again: at most two checkpoint intervals.
  const before = new Set(beforeStop.map(pageOf));
  const again = new Map<string, Set<string>>();
  for (const entry of pageRequests(engine.sandbox.requestLog()).slice(beforeStop.length)) {
    if (!before.has(pageOf(entry))) continue;
    again.set(sliceOf(entry), (again.get(sliceOf(entry)) ?? new Set<string>()).add(pageOf(entry)));
  }
  const counts = [...again.values()].map((pages) => pages.size);
  console.log(`worker-sigterm: pages fetched again per slice: ${counts.join(', ') || 'none'}`);
  expect(Math.max(0, ...counts)).toBeLessThanOrEqual(2 * SLICE_BATCH_PAGES);
}, 240_000);
