import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { RunNeedsAttentionError, type StartedOperation } from '../../client/dataflow-api';
import { startWorker } from '../../worker/create-worker';
import { firstWorkflowTaskCompletedEventId } from '../engine/workflow-events';
import { startTestEngine, workflowBundle, type TestEngine } from '../support/engine';
import { writeHistory } from './history-files';

/**
 * `npm run record:histories`: runs every kind of workflow once against a real dev server, worker and sandbox, and
 * saves each execution's event history under test/histories/ for the replay test (test/worker/replay.test.ts).
 * Run it after a change to workflow code has been made safe (patched, or deployed under a new Worker Build ID), so
 * the new command sequence is what future changes must replay; keep the older files that runs in flight may still
 * have. Takes about two minutes.
 */

const DIR = __dirname;
const NAME = 'HistoryDemo';
const TABLES = ['profiles', 'events', 'lists', 'list_memberships', 'metrics'];
/** profiles has 150 rows, 100 a page: page 2 exists only in an extraction, never in the scope check. */
const PROFILES_PAGE_2_FAILS = { rules: [{ table: 'profiles', page: 2, kind: 'status' as const, status: 500 }] };

async function save(engine: TestEngine, file: string, started: { workflowId: string; runId?: string }): Promise<void> {
  const client = await engine.temporal.client();
  const history = await client.workflow.getHandle(started.workflowId, started.runId).fetchHistory();
  writeHistory(path.join(DIR, `${file}.json`), history);
  console.log(`recorded ${file}.json (${history.events?.length ?? 0} events)`);
}

/** Waits until the run needs attention (a table failed for good) and returns the error that says so. */
async function needsAttention(engine: TestEngine, run: StartedOperation): Promise<void> {
  const outcome = await engine.api.waitForRun(run).then(
    () => new Error('The run succeeded although profiles kept failing.'),
    (err: unknown) => err,
  );
  if (!(outcome instanceof RunNeedsAttentionError)) throw outcome;
}

async function main(): Promise<void> {
  const engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 150, events: 400, metrics: 4, lists: 3 } },
  });
  try {
    // Short client-side retries: the workflow's retry policy is what leads a failing table to "needs attention".
    engine.worker = await startWorker({
      temporalAddress: engine.temporal.address,
      namespace: engine.temporal.namespace,
      databaseUrl: engine.database.url,
      workflowBundle: await workflowBundle(),
      activities: { klaviyoRetry: { baseDelayMs: 10, maxDelayMs: 50 } },
    });
    const api = engine.api;
    await api.create({ name: NAME, apiKey: engine.sandbox.keys.full, baseUrl: engine.sandbox.baseUrl, tables: TABLES });
    await api.waitForRun(await api.run(NAME));

    // A refresh: profiles, events and lists incrementally, list memberships (read per parent) in full.
    const incremental = await api.run(NAME);
    await api.waitForRun(incremental);
    await save(engine, 'run-incremental', incremental);

    // A table that keeps failing: the run waits, needing attention; the retry signal (fault gone) finishes it.
    engine.sandbox.setFaults(PROFILES_PAGE_2_FAILS);
    const retried = await api.run(NAME, { full: true });
    await needsAttention(engine, retried);
    engine.sandbox.setFaults({});
    await api.retry(NAME);
    await api.waitForRun(retried);
    await save(engine, 'run-needs-attention-retried', retried);

    // The same, discarded: the run fails; then reset to its first workflow task, as from the Web UI.
    engine.sandbox.setFaults(PROFILES_PAGE_2_FAILS);
    const failed = await api.run(NAME, { full: true });
    await needsAttention(engine, failed);
    await api.discard(NAME);
    await api.waitForRun(failed).catch(() => undefined);
    await save(engine, 'run-failed-discarded', failed);
    engine.sandbox.setFaults({});
    const temporal = await engine.temporal.client();
    const reset: Promise<{ runId?: string | null }> = temporal.workflowService.resetWorkflowExecution({
      namespace: engine.temporal.namespace,
      workflowExecution: { workflowId: failed.workflowId, runId: failed.runId },
      workflowTaskFinishEventId: await firstWorkflowTaskCompletedEventId(temporal, failed.workflowId, failed.runId),
      requestId: randomUUID(),
      reason: 'recording histories',
    });
    const resetRunId = (await reset).runId ?? '';
    await temporal.workflow.getHandle(failed.workflowId, resetRunId, { followRuns: false }).result();
    await save(engine, 'run-reset', { workflowId: failed.workflowId, runId: resetRunId });

    await api.rollback(NAME);
    await save(engine, 'rollback', await latest(engine, 'rollback'));

    // A run started by the dataflow's schedule.
    await api.schedule(NAME, { every: '2s' });
    const scheduled = await latest(engine, 'run', "DataflowTrigger = 'schedule'");
    await api.deleteSchedule(NAME);
    await save(engine, 'run-scheduled', scheduled);

    await api.remove(NAME);
    await save(engine, 'remove', await latest(engine, 'remove'));
  } finally {
    await engine.stop();
  }
}

/** The latest completed execution of `operation` on the dataflow, from Temporal's visibility (waits for one). */
async function latest(
  engine: TestEngine,
  operation: string,
  extra?: string,
): Promise<{ workflowId: string; runId: string }> {
  const client = await engine.temporal.client();
  const query =
    `DataflowName = '${NAME.toLowerCase()}' AND DataflowOperation = '${operation}' AND ExecutionStatus = 'Completed'` +
    (extra ? ` AND ${extra}` : '');
  const deadline = Date.now() + 60_000;
  for (;;) {
    for await (const execution of client.workflow.list({ query })) {
      return { workflowId: execution.workflowId, runId: execution.runId };
    }
    if (Date.now() > deadline) throw new Error(`No completed ${operation} found (${query})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
