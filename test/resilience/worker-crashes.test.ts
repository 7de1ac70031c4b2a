import type { WorkflowHandle } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { qualifiedName } from '../../activities/warehouse/identifiers';
import type { LiveProgress, StartedOperation } from '../../client/dataflow-api';
import type { RunResult } from '../../shared/operations';
import { startTestEngine, type TestEngine } from '../support/engine';
import { spawnWorkerProcess, type WorkerProcess } from '../engine/worker-process';
import { findKeysInNamespace } from './namespace-key-scan';
import { resilienceSeed, seededRandom } from './seeded-random';
import { startTally } from './tally';
import { compareDataflow } from './warehouse-check';

/**
 * The only worker process is killed with SIGKILL twenty times, at moments drawn from a seeded random
 * sequence and aimed at each phase of a run (validation, mid-table, between tables, commit), while
 * three multi-table dataflows run at once. After each kill a new worker process starts; every run must
 * end Succeeded with every table equal to the sandbox, and no commit may be half-applied.
 */
const KILLS = 20;
const DATAFLOWS = ['CrashA', 'CrashB', 'CrashC'];
const TABLES = ['profiles', 'events', 'metrics', 'lists', 'tags'];
/** Every sandbox answer 150 ms late: runs last a few seconds, wide enough to aim at a phase. */
const SLOW_PAGES = { rules: [{ kind: 'slow' as const, delayMs: 150 }] };
const TARGETS = ['validating', 'mid-table', 'between-tables', 'committing', 'random'] as const;
type Target = (typeof TARGETS)[number];

const seed = resilienceSeed();
const random = seededRandom(seed);
const tally = startTally('worker crashes (SIGKILL)');

let engine: TestEngine;
let worker: WorkerProcess | undefined;
const workerOutputs: string[] = [];
const runs = new Map<string, StartedOperation>();
const finished: { dataflow: string; outcome: RunResult | Error; seconds: number }[] = [];
/**
 * A run lasts seconds; each kill costs it a heartbeat timeout (5 s) and a retry. A run that takes longer than
 * this waited on something slower, such as the 2-minute start-to-close timeout of an activity lost with its worker.
 */
const MAX_RUN_SECONDS = 90;
const killedDuring: string[] = [];

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 300, events: 3000, metrics: 5, lists: 4, tags: 4 }, faults: SLOW_PAGES },
  });
  console.log(`worker-crashes: seed ${seed} (RESILIENCE_SEED=${seed} replays these kill moments)`);
  await startNewWorker();
  for (const name of DATAFLOWS) {
    await engine.api.create({
      name,
      apiKey: engine.sandbox.keys.full,
      baseUrl: engine.sandbox.baseUrl,
      tables: TABLES,
    });
  }
}, 120_000);

afterAll(async () => {
  if (worker) {
    await worker.kill('SIGKILL');
    workerOutputs.push(worker.output());
  }
  tally.save();
  await engine?.stop();
});

async function startNewWorker(): Promise<void> {
  worker = spawnWorkerProcess(engine.env);
  await worker.ready;
}

async function progressOf(name: string): Promise<LiveProgress | null> {
  const run = runs.get(name);
  if (!run) return null;
  const handle: WorkflowHandle = engine.api.temporal.workflow.getHandle(run.workflowId, run.runId);
  return engine.api.progress(handle).catch(() => null);
}

/** Starts a run of every dataflow whose previous run has ended, keeping its outcome for the checks. */
async function keepRunsGoing(): Promise<void> {
  for (const name of DATAFLOWS) {
    const run = runs.get(name);
    if (run) {
      const description = await engine.api.temporal.workflow.getHandle(run.workflowId, run.runId).describe();
      if (description.status.name === 'RUNNING') continue;
      finished.push(await outcomeOf(name, run));
      runs.delete(name);
    }
    runs.set(name, await engine.api.run(name));
    tally.add({ trials: 1 });
  }
}

async function outcomeOf(dataflow: string, run: StartedOperation) {
  const outcome = await engine.api.waitForRun(run).catch((err: Error) => err);
  const description = await engine.api.temporal.workflow.getHandle(run.workflowId, run.runId).describe();
  const seconds = ((description.closeTime?.getTime() ?? Date.now()) - description.startTime.getTime()) / 1000;
  return { dataflow, outcome, seconds };
}

function matches(target: Target, p: LiveProgress): boolean {
  const done = p.tables.filter((t) => t.state === 'done').length;
  switch (target) {
    case 'validating':
      return p.phase === 'validating';
    case 'mid-table':
      return p.phase === 'extracting' && p.tables.some((t) => t.state === 'running');
    case 'between-tables':
      return p.phase === 'extracting' && done > 0 && done < p.tables.length;
    case 'committing':
      return p.phase === 'committing';
    case 'random':
      return true;
  }
}

/**
 * A reader holding a lock on a dataflow's live tables makes its commit wait (and retry), so the kill can
 * land inside commitVersion; released right after the kill.
 */
async function holdReaderLocks(): Promise<PgClient> {
  const reader = new PgClient({ connectionString: engine.database.url });
  await reader.connect();
  await reader.query('BEGIN');
  for (const name of DATAFLOWS) {
    const schema = name.toLowerCase();
    const { rows } = await reader.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
      `${schema}.profiles`,
    ]);
    if (rows[0].exists) await reader.query(`SELECT count(*) FROM ${qualifiedName(schema, 'profiles')}`);
  }
  return reader;
}

/** Waits (at most `timeoutMs`) until some run is in the phase aimed at; returns what each run was doing. */
async function waitForTarget(target: Target, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + (target === 'random' ? random() * 3_000 : timeoutMs);
  for (;;) {
    // A run that ended is followed by the next at once, so every phase comes round again.
    await keepRunsGoing();
    const progress = (await Promise.all(DATAFLOWS.map(progressOf))).filter((p): p is LiveProgress => p !== null);
    const hit = target !== 'random' && progress.some((p) => matches(target, p));
    if (hit || Date.now() >= deadline) {
      return progress.map((p) => `${p.dataflow}:${p.phase}${hit && matches(target, p) ? '*' : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(`runs of three dataflows survive ${KILLS} SIGKILLs of their worker aimed at every phase`, async () => {
  for (let kill = 1; kill <= KILLS; kill++) {
    const target = TARGETS[Math.floor(random() * TARGETS.length)];
    const reader = target === 'committing' ? await holdReaderLocks() : null;
    // A random extra pause inside the phase, so the kill is not always at its first instant.
    const at = await waitForTarget(target, 6_000);
    await new Promise((r) => setTimeout(r, random() * 300));
    await worker?.kill('SIGKILL');
    workerOutputs.push(worker?.output() ?? '');
    tally.add({ faults: 1 });
    killedDuring.push(`#${kill} ${target}: ${at.join(' ')}`);
    await reader?.query('ROLLBACK').finally(() => reader.end());
    await startNewWorker();
  }
  for (const name of DATAFLOWS) {
    const run = runs.get(name);
    if (!run) continue;
    finished.push(await outcomeOf(name, run));
  }
  console.log(`worker-crashes: kills (target: what each run was doing, * = aimed at)\n  ${killedDuring.join('\n  ')}`);
  const failures = finished.filter((f) => f.outcome instanceof Error);
  tally.add({ survived: finished.length - failures.length });
  expect(failures.map((f) => `${f.dataflow}: ${(f.outcome as Error).message}`)).toEqual([]);
  expect(finished.length).toBeGreaterThanOrEqual(DATAFLOWS.length * 2);
}, 330_000);

test(`no run took longer than ${MAX_RUN_SECONDS} s: a lost activity is noticed within its heartbeat timeout`, () => {
  const slowest = Math.max(...finished.map((f) => f.seconds));
  console.log(`worker-crashes: ${finished.length} runs, the slowest took ${slowest.toFixed(1)} s`);
  expect(finished.filter((f) => f.seconds > MAX_RUN_SECONDS).map((f) => `${f.dataflow}: ${f.seconds} s`)).toEqual([]);
});

test('the kills landed in validation, mid-table, between tables and in the commit', () => {
  const phases = new Set(killedDuring.flatMap((line) => [...line.matchAll(/:(\w+)\*/g)].map((m) => m[1])));
  expect([...phases].sort()).toEqual(expect.arrayContaining(['committing', 'extracting', 'validating']));
});

test('every table of every dataflow equals the sandbox: no row lost, none duplicated', async () => {
  const results = await Promise.all(
    DATAFLOWS.map((name) => compareDataflow(engine.api.pool, engine.sandbox, name, TABLES)),
  );
  tally.add({
    rowsLost: results.reduce((n, r) => n + r.lost, 0),
    rowsDuplicated: results.reduce((n, r) => n + r.duplicated, 0),
  });
  expect(results.flatMap((r) => r.comparisons.filter((c) => c.lost || c.duplicated || c.unexpected))).toEqual([]);
  expect(results.every((r) => r.exact)).toBe(true);
});

test('no commit is half-applied: every table shows the committed version and nothing stays staged', async () => {
  for (const name of DATAFLOWS) {
    const dataflow = await engine.api.get(name);
    const entities = await engine.api.entities(name);
    expect(entities.map((e) => [e.table, e.version])).toEqual(
      [...TABLES].sort().map((t) => [t, dataflow.currentVersion]),
    );
    expect(dataflow.status).toBe('Succeeded');
  }
  const { rows } = await engine.api.pool.query<{ state: string; n: string }>(
    "SELECT state, count(*) AS n FROM dataflow_control.dataflow_versions WHERE state = 'staging' GROUP BY state",
  );
  expect(rows).toEqual([]);
  const locks = await engine.api.pool.query('SELECT 1 FROM dataflow_control.operation_locks');
  expect(locks.rows).toEqual([]);
});

test('no API key appears in any workflow history or worker log', async () => {
  const { leaks, executions } = await findKeysInNamespace(await engine.temporal.client(), [engine.sandbox.keys.full], {
    workers: workerOutputs,
  });
  tally.add({ keysLeaked: leaks.length });
  expect(executions).toBeGreaterThan(0);
  expect(leaks).toEqual([]);
}, 60_000);
