import { startSandboxProcess, type SandboxProcess } from '../../sandbox/child-process';
import { startTestEngine, type TestEngine } from '../support/engine';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * No rows pass through Temporal: the history of a run grows with its tables, never with its rows.
 * One run over a thousand events and one over a million, both of the events table alone, with the
 * worker in its own process. The million events come from a sandbox process of their own: inside
 * jest's vm context every global lookup (`Math.imul` in the generator's hash) is far slower, which
 * made an in-process sandbox, not the engine, the bottleneck (75 s instead of about 35 s).
 */
const SMALL = 1_000;
const BIG = 1_000_000;

let engine: TestEngine;
let bigSandbox: SandboxProcess;
let worker: WorkerProcess;
const historyLength = new Map<number, number>();

beforeAll(async () => {
  [engine, bigSandbox] = await Promise.all([
    startTestEngine({ worker: false, sandbox: { sizes: { events: SMALL } } }),
    startSandboxProcess(['--seed', '7', '--no-rate-limits', '--events', String(BIG)]),
  ]);
  worker = spawnWorkerProcess(engine.env);
  await worker.ready;
}, 120_000);

afterAll(async () => {
  await worker?.kill('SIGTERM');
  await bigSandbox?.close();
  await engine?.stop();
});

/** Creates a dataflow of the events table alone, runs it, and records its history length. */
async function runEvents(
  name: string,
  sandbox: { baseUrl: string; keys: { full: string } },
  events: number,
): Promise<{ rows: number; seconds: number }> {
  await engine.api.create({ name, apiKey: sandbox.keys.full, baseUrl: sandbox.baseUrl, tables: ['events'] });
  const started = performance.now();
  const run = await engine.api.run(name);
  const result = await engine.api.waitForRun(run);
  const seconds = (performance.now() - started) / 1000;
  const history = await engine.api.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  historyLength.set(events, history.events?.length ?? 0);
  return { rows: result.tables.find((t) => t.table === 'events')?.rows ?? -1, seconds };
}

async function expectedEvents(baseUrl: string): Promise<number> {
  const response = await fetch(`${baseUrl}/__sandbox/expected/events`);
  return ((await response.json()) as { count: number }).count;
}

test('a run over a thousand events imports every one of them', async () => {
  await runEvents('ThousandEvents', engine.sandbox, SMALL);
  // Counted in Postgres, not taken from the engine's report.
  const { rows } = await engine.api.pool.query<{ total: string; distinct: string }>(
    'SELECT count(*) AS total, count(DISTINCT id) AS distinct FROM thousandevents.events',
  );
  const expected = engine.sandbox.expectedCount('events');
  expect(rows.map((r) => [Number(r.total), Number(r.distinct)])).toEqual([[expected, expected]]);
}, 60_000);

test('a run over a million events imports every one of them, once each', async () => {
  const { rows, seconds } = await runEvents('MillionEvents', bigSandbox, BIG);
  console.log(
    `history-size: ${rows} events in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s), ` +
      `history of ${historyLength.get(BIG)} events`,
  );
  expect(await expectedEvents(bigSandbox.baseUrl)).toBe(BIG);
  expect(rows).toBe(BIG);
  const [{ total, distinct }] = await engine.api.pool
    .query<{ total: string; distinct: string }>(
      'SELECT count(*) AS total, count(DISTINCT id) AS distinct FROM millionevents.events',
    )
    .then((r) => r.rows);
  expect({ total: Number(total), distinct: Number(distinct) }).toEqual({ total: BIG, distinct: BIG });
}, 300_000);

test('the history of the million-event run is about as long as that of the thousand-event run', () => {
  const small = historyLength.get(SMALL);
  const big = historyLength.get(BIG);
  console.log(`history-size: ${SMALL} events → ${small} history events; ${BIG} events → ${big} history events`);
  expect(small).toBeGreaterThan(0);
  expect(big).toBeLessThanOrEqual((small as number) + 10);
});
