import { getTable, RATE_TIERS } from '../../klaviyo/catalog';
import { BATCH_PAGES, BATCH_ROWS } from '../../activities/extract-table';
import { scaledLimits, tierWindows, type TierWindows } from '../../bench/tier-windows';
import type { StartedOperation } from '../../client/dataflow-api';
import type { RequestLogEntry } from '../../sandbox/server';
import type { RunResult } from '../../shared/operations';
import { checkDataflow } from '../resilience/warehouse-check';
import { warehouseSchemaName } from '../../control-plane/dataflow-name';
import { qualifiedName, quoteIdent } from '../../warehouse/identifiers';
import { relationshipColumn } from '../../warehouse/table-layout';
import { startScaleOut, type ScaleOut } from '../support/scale-out';
import { SCALE_OUT_DATAFLOWS as DATAFLOWS, SCALE_OUT_TIERS, scaleOutSizes } from '../../bench/scale-out';

/**
 * Three worker processes, five dataflows on one sandbox account (the bench's scale-out dataflows), the sandbox
 * enforcing Klaviyo's limits scaled by a third (so the smallest tier, XS, still lets the five runs' key checks through
 * in one minute), the tables sized to need 1.3 minutes of the XL, L and M tiers' steady limits. Each of those tiers'
 * first steady window runs on three workers and must reach 90% of its limit; once all their second windows have
 * begun, the worker holding the most extractions is killed (SIGKILL), and the two survivors must finish its tables
 * from their checkpoints without overdrawing the budget. The full-size measurement, at Klaviyo's real limits, is the
 * bench's scale-out section (`npm run bench`).
 */
const SCALE = 1 / 3;
const WORKERS = 3;
const WINDOWS = 1.3;
/** A batch (rows and checkpoint, one transaction) ends at BATCH_ROWS rows or BATCH_PAGES pages. */
const CHECKPOINT_PAGES = Math.min(BATCH_PAGES, Math.ceil(BATCH_ROWS / 100));

let scaleOut: ScaleOut;
let runs: StartedOperation[] = [];
let results: RunResult[] = [];
let log: RequestLogEntry[] = [];
let tiers: TierWindows[] = [];
let killedAt = 0;
let killedExtractions = 0;
let startedAt = 0;

beforeAll(async () => {
  scaleOut = await startScaleOut({
    workers: WORKERS,
    scale: SCALE,
    sizes: scaleOutSizes(SCALE, WINDOWS),
    dataflows: [...DATAFLOWS],
  });
}, 120_000);

afterAll(async () => {
  await scaleOut?.stop();
});

/** Resolves once some request of the log satisfies `found`; fails after `ms`. */
async function waitForRequest(found: (entries: RequestLogEntry[]) => boolean, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!found(scaleOut.engine.sandbox.requestLog())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('three workers run five dataflows on one account; one is killed once the second minute has begun', async () => {
  startedAt = Date.now();
  runs = await scaleOut.runAll();
  // Every measured tier's first steady window has closed (so it measured three workers) and its second has begun.
  await waitForRequest(
    (entries) => {
      const tiers = tierWindows(entries, { scale: SCALE });
      return SCALE_OUT_TIERS.every((name) => tiers.find((t) => t.tier === name)?.steadyWindows.length === 1);
    },
    150_000,
    "every tier's second minute",
  );
  const victim = await scaleOut.busiestWorker(runs);
  if (!victim) throw new Error('No worker held an extraction to kill: the tables are too small for the second minute');
  killedExtractions = victim.extractions;
  killedAt = Date.now();
  await victim.worker.kill('SIGKILL');
  results = await scaleOut.waitAll(runs);
  log = scaleOut.finishRequests();
  tiers = tierWindows(log, { scale: SCALE });
  const seconds = (Date.now() - startedAt) / 1000;
  console.log(
    `scale-out: ${WORKERS} workers, ${DATAFLOWS.length} dataflows, limits ×${SCALE.toFixed(3)}; ` +
      `run ${seconds.toFixed(1)} s; killed a worker holding ${killedExtractions} extractions ` +
      `${((killedAt - startedAt) / 1000).toFixed(1)} s in; ${log.filter((e) => e.status === 429).length} answers 429\n` +
      tiers
        .map(
          (t) =>
            `  ${t.tier.padEnd(14)} ${String(t.requests).padStart(5)} requests in ${t.seconds.toFixed(1)} s; ` +
            `steady windows ${JSON.stringify(t.steadyWindows)} of ${t.limits.steady} ` +
            `(${(t.share * 100).toFixed(1)}%); most in 1 s ${t.maxPerBurstWindow}/${t.limits.burst}, ` +
            `in 60 s ${t.maxPerSteadyWindow}/${t.limits.steady}`,
        )
        .join('\n'),
  );
  expect(results.every((r) => r.tables.length > 0)).toBe(true);
}, 240_000);

/** A fan-out table's (parent id, id) pairs against the sandbox's: none lost, none twice, none unexpected. */
async function fanOutProblems(dataflow: string, table: string): Promise<string[]> {
  const entry = getTable(table);
  const parentColumn = relationshipColumn(getTable(entry.parent?.table ?? '').resourceType);
  const relation = qualifiedName(warehouseSchemaName(dataflow), table);
  const { rows } = await scaleOut.engine.api.pool.query<{ pair: string }>(
    `SELECT ${quoteIdent(parentColumn)} || ':' || id AS pair FROM ${relation}`,
  );
  const stored = rows.map((r) => r.pair);
  const expected = new Set<string>();
  for await (const pair of scaleOut.engine.sandbox.expectedIds(table)) expected.add(pair);
  const distinct = new Set(stored);
  const lost = [...expected].filter((p) => !distinct.has(p)).length;
  const unexpected = [...distinct].filter((p) => !expected.has(p)).length;
  const duplicated = stored.length - distinct.size;
  return lost || unexpected || duplicated
    ? [`${dataflow}.${table}: ${lost} lost, ${duplicated} duplicated, ${unexpected} unexpected of ${expected.size}`]
    : [];
}

test('every table equals the sandbox, id for id and value for value', async () => {
  const { pool } = scaleOut.engine.api;
  const problems: string[] = [];
  for (const dataflow of DATAFLOWS) {
    const checkStarted = Date.now();
    // The value check reads top-level tables; a fan-out table is checked pair for pair (parent id, id).
    const topLevel = dataflow.tables.filter((t) => !getTable(t).parent && !getTable(t).requiredFilter);
    const fanOut = dataflow.tables.filter((t) => !topLevel.includes(t));
    problems.push(...(await checkDataflow(pool, scaleOut.engine.sandbox, dataflow.name, topLevel)).problems);
    for (const table of fanOut) problems.push(...(await fanOutProblems(dataflow.name, table)));
    console.log(`scale-out: checked ${dataflow.name} in ${((Date.now() - checkStarted) / 1000).toFixed(1)} s`);
  }
  expect(problems).toEqual([]);
}, 120_000);

test('no answer was 429, and no window of 1 s or 60 s got more requests than its tier allows', () => {
  expect(log.filter((e) => e.status === 429).map((e) => `${e.table} ${e.time}`)).toEqual([]);
  const overdrawn = tiers.flatMap((t) => [
    ...(t.maxPerBurstWindow > t.limits.burst ? [`${t.tier}: ${t.maxPerBurstWindow} in 1 s of ${t.limits.burst}`] : []),
    ...(t.maxPerSteadyWindow > t.limits.steady
      ? [`${t.tier}: ${t.maxPerSteadyWindow} in 60 s of ${t.limits.steady}`]
      : []),
  ]);
  expect(overdrawn).toEqual([]);
});

test("each tier's first whole minute, all three workers up, reached 90% of its steady limit", () => {
  for (const name of SCALE_OUT_TIERS) {
    const tier = tiers.find((t) => t.tier === name);
    expect({ tier: name, limit: tier?.limits }).toEqual({ tier: name, limit: scaledLimits(RATE_TIERS[name], SCALE) });
    // The window closed before the kill: it measures three workers.
    const firstRequest = Math.min(
      ...log.filter((e) => e.table !== null && tier?.tables.includes(e.table)).map((e) => Date.parse(e.time)),
    );
    expect(firstRequest + 60_000).toBeLessThanOrEqual(killedAt);
    expect({ tier: name, windows: tier?.steadyWindows.length ?? 0 }).toEqual({ tier: name, windows: 1 });
    expect({ tier: name, share: (tier?.share ?? 0) >= 0.9 }).toEqual({ tier: name, share: true });
  }
});

test("the killed worker's tables resumed on the survivors from their checkpoints", async () => {
  const client = await scaleOut.engine.temporal.client();
  let retried = 0;
  for (const run of runs) {
    const history = await client.workflow.getHandle(run.workflowId).fetchHistory();
    for (const event of history.events ?? []) {
      const attempt = event.activityTaskStartedEventAttributes?.attempt ?? 0;
      if (attempt >= 2) retried += 1;
    }
  }
  expect(retried).toBeGreaterThanOrEqual(killedExtractions);
  // Pages fetched per table (the key check's one-row probes left out) against the pages the run stored: a resumed
  // table re-reads at most the pages of the batch it was writing and one more, never the table from page 1.
  const overread: string[] = [];
  const stored = new Map<string, number>();
  for (const result of results)
    for (const t of result.tables) stored.set(t.table, (stored.get(t.table) ?? 0) + t.pages);
  for (const [table, pages] of stored) {
    const fetched = log.filter(
      (e) => e.table === table && e.status === 200 && new URLSearchParams(e.query).get('page[size]') !== '1',
    ).length;
    const readers = DATAFLOWS.filter((d) => d.tables.includes(table)).length;
    if (fetched < pages || fetched > pages + 2 * CHECKPOINT_PAGES * readers) {
      overread.push(`${table}: ${fetched} pages fetched, ${pages} stored`);
    }
  }
  expect(overread).toEqual([]);
});
