import { findFreePort } from '../../stack/free-port';
import { METRIC_NAMES } from '../../activities/dataflow-metrics';
import { startTestEngine, type TestEngine } from '../support/engine';
import { spawnWorkerProcess, type WorkerProcess } from '../engine/worker-process';

/**
 * The worker's Prometheus endpoint (DATAFLOW_METRICS_ADDRESS), scraped while a worker process runs a dataflow: the
 * SDK's runtime metrics and the dataflow's own (requests and 429s per tier, budget waits, rows and pages per table and
 * tier, extraction durations) are there, and their values agree with what the run did.
 */

const NAME = 'MetricsRun';
let engine: TestEngine;
let worker: WorkerProcess;
let url = '';

beforeAll(async () => {
  // Limits on (ten times Klaviyo's, in the sandbox and the budget), so requests wait on the shared budget.
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 2_000, events: 3_000 }, rateLimits: { enabled: true, scale: 10 } },
  });
  const port = await findFreePort();
  url = `http://127.0.0.1:${port}/metrics`;
  worker = spawnWorkerProcess({ ...engine.env, DATAFLOW_METRICS_ADDRESS: `127.0.0.1:${port}` });
  await worker.ready;
}, 120_000);

afterAll(async () => {
  await worker?.kill('SIGKILL');
  await engine?.stop();
});

async function scrape(): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}

/** The sum of a metric's samples whose labels include `labels`. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const tags = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => tags[k] === v)) total += Number(match[3]);
  }
  return total;
}

test('a scrape during and after a run shows the SDK metrics and the dataflow counters', async () => {
  await engine.api.create({
    name: NAME,
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['profiles', 'events'],
  });
  // Two 429s on the events read's pages (sorted by datetime, unlike the probes): the throttled counter must see them.
  engine.sandbox.setFaults({ rules: [{ table: 'events', sort: 'datetime', kind: 'status', status: 429, times: 2 }] });
  const run = await engine.api.run(NAME);
  // While the run is going: the endpoint answers and the SDK's worker metrics are there.
  const during = await scrape();
  expect(during).toMatch(/^temporal_\w+/m);
  const result = await engine.api.waitForRun(run);

  const text = await scrape();
  console.log(
    text
      .split('\n')
      .filter((l) => l.startsWith('dataflow_') && !l.includes('_bucket'))
      .join('\n'),
  );
  const rows = Object.fromEntries(result.tables.map((t) => [t.table, t.rows]));
  const pages = Object.fromEntries(result.tables.map((t) => [t.table, t.pages]));
  expect(sum(text, `${METRIC_NAMES.rows}`, { table: 'profiles', tier: 'L' })).toBe(rows.profiles);
  expect(sum(text, `${METRIC_NAMES.rows}`, { table: 'events' })).toBe(rows.events);
  expect(sum(text, `${METRIC_NAMES.pages}`, { table: 'events' })).toBe(pages.events);
  // Every page was one answered request, plus the key check's probes and the two 429s.
  const requests = sum(text, `${METRIC_NAMES.requests}`);
  expect(requests).toBeGreaterThanOrEqual(pages.profiles + pages.events + 2);
  expect(sum(text, `${METRIC_NAMES.requests}`, { status: '429' })).toBe(2);
  expect(sum(text, `${METRIC_NAMES.throttled}`)).toBe(2);
  expect(sum(text, `${METRIC_NAMES.rateWait}_count`)).toBeGreaterThanOrEqual(requests);
  expect(sum(text, `${METRIC_NAMES.tableSeconds}_count`, { outcome: 'completed' })).toBe(2);
  // The SDK's own: run durations (end to end, per workflow type) and task slots. The SDK records an end-to-end sample
  // each time it finds the workflow finished after driving it, replays included: a query answered after the run ended
  // (the progress poll) on a loaded machine, whose cache had let the run go, replays it and records a second sample.
  // So the count says the run was seen to finish, at least once; how many runs finished is the dataflow's own
  // counter above (two tables completed).
  expect(
    sum(text, 'temporal_workflow_endtoend_latency_count', { workflow_type: 'runDataflow' }),
  ).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/^temporal_worker_task_slots_available\{/m);
}, 120_000);
