import { startTestEngine, type TestEngine } from '../support/engine';

/**
 * During a storm of 503s the client retries one page for many seconds; the run's progress says so per table
 * ("Klaviyo 503, attempt 3/5, next in 2 s") instead of showing nothing, then the run completes.
 */
let engine: TestEngine;
const NAME = 'StormWatch';

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 20, events: 3000 } } });
  await engine.api.create({
    name: NAME,
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['events'],
  });
}, 120_000);

afterAll(async () => engine?.stop());

test('a table whose page is being retried shows why, which attempt and when the next comes', async () => {
  // The read's first page, sorted by datetime: the key's scope probe (unsorted) and the read's probe of its last second
  // (sorted descending) must not take the faults, and the read splits only once that page is in.
  engine.sandbox.setFaults({ rules: [{ table: 'events', sort: 'datetime', times: 3, kind: 'status', status: 503 }] });
  const started = await engine.api.run(NAME);
  const seen = new Set<string>();
  try {
    const result = await engine.api.waitForRun(started, (progress) => {
      for (const table of progress.tables) if (table.retrying) seen.add(`${table.table}: ${table.retrying}`);
    });
    expect(result.tables.map((t) => t.table)).toEqual(['events']);
  } finally {
    engine.sandbox.setFaults({});
  }
  expect([...seen].some((line) => /^events: Klaviyo 503, attempt [2-4]\/5, next in \d+ s$/.test(line))).toBe(true);
}, 120_000);
