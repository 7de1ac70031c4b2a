import { getTable } from '../../activities/klaviyo/catalog';
import { CONTROL_TABLES } from '../../activities/control-plane/control-schema';
import { BATCH_PAGES, BATCH_ROWS } from '../../activities/extract-table';
import { startTestEngine, type TestEngine } from '../support/engine';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * A worker process stopped with SIGTERM (a deploy, a scale-down) in the middle of a large table: it hands the table
 * back at once, as a retryable WorkerShutdown failure, and exits; a second worker resumes it from the checkpoint, without
 * waiting for a heartbeat timeout and without reading from page 1 again.
 */
const EVENTS = 200_000;
const STOP_AFTER_ROWS = 40_000;
const NAME = 'SigtermDemo';
const pageSize = getTable('events').pageSize?.max ?? 1;
const pagesNeeded = Math.ceil(EVENTS / pageSize);
const checkpointPages = Math.min(BATCH_PAGES, Math.ceil(BATCH_ROWS / pageSize));

let engine: TestEngine;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  engine = await startTestEngine({ worker: false, sandbox: { sizes: { events: EVENTS } } });
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.kill('SIGKILL');
  await engine?.stop();
});

function start(): WorkerProcess {
  const worker = spawnWorkerProcess(engine.env);
  workers.push(worker);
  return worker;
}

async function committedRows(): Promise<number> {
  const { rows } = await engine.api.pool.query<{ rows: string }>(
    `SELECT rows FROM ${CONTROL_TABLES.checkpoints} WHERE table_name = 'events'`,
  );
  return Number(rows[0]?.rows ?? 0);
}

test('SIGTERM hands an extraction back at its checkpoint; another worker finishes it', async () => {
  const first = start();
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
  const second = start();
  await second.ready;
  const stopped = performance.now();
  process.kill(first.pid, 'SIGTERM');
  // It exits by itself, cleanly, well before a kill would be needed.
  expect(await first.exited).toBe(0);
  const exitSeconds = (performance.now() - stopped) / 1000;
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

  const fetched = engine.sandbox
    .requestLog()
    .filter((e) => e.table === 'events' && new URLSearchParams(e.query).get('page[size]') === String(pageSize)).length;
  console.log(`worker-sigterm: ${fetched} events pages fetched for ${pagesNeeded} needed`);
  expect(fetched).toBeLessThanOrEqual(pagesNeeded + 2 * checkpointPages);
}, 240_000);
