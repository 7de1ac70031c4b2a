import type { LiveProgress } from '../../client/dataflow-api';
import type { RequestLogEntry } from '../../sandbox/server';
import type { RunResult } from '../../shared/operations';
import { createDataflows } from '../support/dataflows';
import { startTestEngine, type TestEngine } from '../support/engine';
import { workerProcesses, type WorkerProcess } from './worker-process';

/**
 * Klaviyo's daily Reporting API quota, shrunk to 3 requests per 12-second "day" in the sandbox and in the workers'
 * settings: two dataflows of one account need 8 report requests together. The runs extract everything else, wait
 * for the quota on a Temporal timer (shown in progress, the history and the Web UI's details), survive their worker
 * being SIGKILLed during the wait, finish once the window turns, and together never exceed the quota (the sandbox's
 * log holds no 429 and never more than 3 report requests within 12 s). A rollback issued during a wait cancels the
 * waiting run and rolls back.
 */
const PER_DAY = 3;
const DAY_SECONDS = 12;
const TABLES = ['metrics', 'campaign_message_values', 'flow_message_values', 'form_values', 'segment_values'];

let engine: TestEngine;
const workers = workerProcesses(() => engine.env);

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    sandbox: { rateLimits: { enabled: false, reportsPerDay: PER_DAY, reportDaySeconds: DAY_SECONDS } },
  });
  Object.assign(engine.env, {
    KLAVIYO_REPORTS_PER_DAY: String(PER_DAY),
    KLAVIYO_REPORT_DAY_SECONDS: String(DAY_SECONDS),
  });
  await createDataflows(engine, ['QuotaA', 'QuotaB'], TABLES);
}, 120_000);

afterAll(async () => {
  await workers.killAll();
  await engine?.stop();
});

async function startWorkerProcess(): Promise<WorkerProcess> {
  const worker = workers.start();
  await worker.ready;
  return worker;
}

const reportRequests = (log: readonly RequestLogEntry[]) => log.filter((e) => e.report !== undefined);

/** Resolves with the first progress that waits for the quota (until a time `accept` takes). */
function waitingProgress(accept: (until: number) => boolean = () => true): {
  seen: Promise<LiveProgress>;
  onProgress: (p: LiveProgress) => void;
} {
  let resolve: (p: LiveProgress) => void = () => undefined;
  const seen = new Promise<LiveProgress>((r) => (resolve = r));
  const onProgress = (p: LiveProgress) => {
    if (p.phase === 'waiting-for-quota' && p.quotaWait && accept(Date.parse(p.quotaWait.until))) resolve(p);
  };
  return { seen, onProgress };
}

test('two dataflows of one account wait for the quota, survive a SIGKILL during the wait, and never exceed it', async () => {
  const first = await startWorkerProcess();
  engine.sandbox.resetRequestLog();
  const runs = await Promise.all(['QuotaA', 'QuotaB'].map((name) => engine.api.run(name)));
  const watchers = runs.map(() => waitingProgress());
  const results = runs.map((run, i) => engine.api.waitForRun(run, watchers[i].onProgress));
  results.forEach((r) => r.catch(() => undefined));
  const waiting = await Promise.race(watchers.map((w) => w.seen));
  expect(waiting.quotaWait?.until).toEqual(expect.any(String));
  expect(waiting.tables.filter((t) => t.table === 'metrics').map((t) => t.state)).toEqual(['done']);

  // Killed while the runs wait on their timers; another worker process carries on.
  await first.kill('SIGKILL');
  await startWorkerProcess();
  const [a, b] = (await Promise.all(results)) as [RunResult, RunResult];
  for (const result of [a, b]) {
    expect(result.version).toBe(1);
    for (const table of TABLES) expect(result.tables.find((t) => t.table === table)?.rows).toBeGreaterThan(0);
  }
  const waited = [a, b].filter((r) => r.notices.some((n) => n.startsWith("Waited for Klaviyo's daily report quota")));
  expect(waited.length).toBeGreaterThan(0);

  // The quota held for both together: no 429, never more than PER_DAY report requests within DAY_SECONDS.
  const requests = reportRequests(engine.sandbox.requestLog());
  expect(requests).toHaveLength(8);
  expect(requests.filter((e) => e.status !== 200)).toEqual([]);
  const times = requests.map((e) => Date.parse(e.time)).sort((x, y) => x - y);
  const busiest = Math.max(...times.map((t) => times.filter((u) => u > t - DAY_SECONDS * 1000 && u <= t).length));
  expect(busiest).toBeLessThanOrEqual(PER_DAY);

  // The history says so: the Temporal history holds the timer, `dataflow history` the wait.
  const name = waited[0].dataflow;
  const run = runs[a === waited[0] ? 0 : 1];
  const history = await (await engine.temporal.client()).workflow.getHandle(run.workflowId).fetchHistory();
  const timers = (history.events ?? []).filter((e) => e.timerStartedEventAttributes);
  expect(timers.length).toBeGreaterThan(0);
  const [record] = await engine.api.history(name);
  expect(record.description).toMatch(/^Waited for Klaviyo's daily report quota until \S+ \(.+\)\.$/);
}, 180_000);

test('a rollback issued while a run waits for the quota cancels the run cleanly and rolls back', async () => {
  // A second version to roll back from; then a third run, which needs more requests than a day holds.
  const second = await engine.api.waitForRun(await engine.api.run('QuotaA'));
  expect(second.version).toBe(2);
  const watcher = waitingProgress();
  const third = await engine.api.run('QuotaA');
  const outcome = engine.api.waitForRun(third, watcher.onProgress);
  outcome.catch(() => undefined);
  const waiting = await watcher.seen;
  expect(waiting.version).toBe(3);
  const [during] = await engine.api.history('QuotaA');
  expect(during.description).toMatch(/^Waiting for Klaviyo's daily report quota until \S+ \(.+\)\.$/);

  const rolledBack = await engine.api.rollback('QuotaA');
  expect({ from: rolledBack.fromVersion, to: rolledBack.toVersion }).toEqual({ from: 2, to: 1 });
  await expect(outcome).rejects.toThrow(/cancel/i);
  const dataflow = await engine.api.get('QuotaA');
  expect(dataflow.currentVersion).toBe(1);
  // The cancelled run's staged version is gone, nothing of it is left in the warehouse.
  const { rows } = await engine.api.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'quotaa' AND tablename LIKE '%__v3'`,
  );
  expect(Number(rows[0].n)).toBe(0);
}, 120_000);

test('a 429 whose Retry-After is an hour is a wait for the quota, not a failure; cancel ends the wait', async () => {
  // Klaviyo's count is stricter than the ledger's here: one request an hour, and the earlier ones still count.
  engine.sandbox.setRateLimits({ enabled: false, reportsPerDay: 1, reportDaySeconds: 3600 });
  const started = Date.now();
  // The ledger's own 12-second waits may come first; the one that counts is the sandbox's hour.
  const watcher = waitingProgress((until) => until - started > 30 * 60_000);
  engine.sandbox.resetRequestLog();
  const run = await engine.api.run('QuotaB');
  const outcome = engine.api.waitForRun(run, watcher.onProgress);
  outcome.catch(() => undefined);
  try {
    const waiting = await Promise.race([
      watcher.seen,
      outcome.then(() => Promise.reject(new Error('The run ended without waiting for the hour'))),
    ]);
    // Until the sandbox's oldest counted request leaves its hour: most of an hour away, not seconds.
    expect(Date.parse(waiting.quotaWait?.until ?? '') - started).toBeGreaterThan(30 * 60_000);
    const throttled = reportRequests(engine.sandbox.requestLog()).filter((e) => e.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    const [listed] = (await engine.api.list()).filter((d) => d.name === 'QuotaB');
    expect(listed.lastError).toMatch(/^Waiting for Klaviyo's daily report quota until /);
  } finally {
    await engine.api.cancel('QuotaB').catch(() => undefined);
  }
  await expect(outcome).rejects.toThrow(/cancel/i);
  expect((await engine.api.get('QuotaB')).currentVersion).toBe(1);
}, 120_000);
