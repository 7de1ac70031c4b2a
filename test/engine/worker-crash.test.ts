import { getTable } from '../../activities/klaviyo/catalog';
import { CONTROL_TABLES } from '../../activities/control-plane/control-schema';
import { BATCH_PAGES, BATCH_ROWS } from '../../activities/extract-table';
import type { RunResult } from '../../shared/operations';
import { startTestEngine, type TestEngine } from '../support/engine';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * A worker process killed with SIGKILL in the middle of a large table: once the heartbeat timeout
 * (5 s) tells Temporal the activity is lost, another worker process resumes from the Postgres
 * checkpoint and finishes the run with exactly the sandbox's rows.
 */
const EVENTS = 300_000;
/** Kill once this many rows are committed: well inside the table, and well past two checkpoint intervals. */
const KILL_AFTER_ROWS = 60_000;
const NAME = 'CrashDemo';

const events = getTable('events');
const pageSize = events.pageSize?.max ?? 1;
const pagesNeeded = Math.ceil(EVENTS / pageSize);
/** A batch (rows and checkpoint, one transaction) ends at BATCH_ROWS rows or BATCH_PAGES pages. */
const checkpointPages = Math.min(BATCH_PAGES, Math.ceil(BATCH_ROWS / pageSize));

let engine: TestEngine;
const workers: WorkerProcess[] = [];
let killedAt: { rows: number; pages: number; done: boolean } | undefined;
let result: RunResult | undefined;
let workflowId = '';

beforeAll(async () => {
  engine = await startTestEngine({ worker: false, sandbox: { sizes: { events: EVENTS } } });
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.kill('SIGKILL');
  await engine?.stop();
});

function startWorkerProcess(): WorkerProcess {
  const worker = spawnWorkerProcess(engine.env);
  workers.push(worker);
  return worker;
}

async function checkpoint(): Promise<{ rows: number; pages: number; done: boolean } | undefined> {
  const { rows } = await engine.api.pool.query<{ rows: string; pages: number; done: boolean }>(
    `SELECT rows, pages, done FROM ${CONTROL_TABLES.checkpoints} WHERE table_name = 'events'`,
  );
  return rows[0] && { rows: Number(rows[0].rows), pages: rows[0].pages, done: rows[0].done };
}

/** Requests the extraction made for events pages (the key check's one-row probes left out). */
function extractionPageRequests(): number {
  return engine.sandbox
    .requestLog()
    .filter((e) => e.table === 'events' && new URLSearchParams(e.query).get('page[size]') === String(pageSize)).length;
}

test('a run survives its worker being killed mid-table and a new worker finishes it', async () => {
  const first = startWorkerProcess();
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
  while (!seen || seen.rows < KILL_AFTER_ROWS) {
    if (Date.now() > deadline) throw new Error(`No progress to kill at: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 50));
    seen = await checkpoint();
  }
  await first.kill('SIGKILL');
  killedAt = await checkpoint();
  expect(killedAt?.done).toBe(false);

  const killed = performance.now();
  await startWorkerProcess().ready;
  result = await engine.api.waitForRun(run);
  console.log(
    `worker-crash: killed at ${killedAt?.rows} rows (${killedAt?.pages} pages); ` +
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

test('the new worker re-fetched no more than two checkpoint intervals of pages', () => {
  const fetched = extractionPageRequests();
  console.log(
    `worker-crash: ${fetched} events pages fetched for ${pagesNeeded} needed ` +
      `(checkpoint every ${checkpointPages} pages, so at most ${pagesNeeded + 2 * checkpointPages} allowed)`,
  );
  expect(fetched).toBeGreaterThanOrEqual(pagesNeeded);
  expect(fetched).toBeLessThanOrEqual(pagesNeeded + 2 * checkpointPages);
});
