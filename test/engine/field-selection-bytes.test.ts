import { startTestEngine, type TestEngine } from '../support/engine';
import type { RunResult } from '../../shared/operations';

/**
 * Field selection is pushed down to Klaviyo (`fields[profile]=…`): deselected fields are never downloaded.
 * Two dataflows read the same profiles, one with every default field, one with three.
 */
let engine: TestEngine;
const ALL = 'ProfilesAll';
const THREE = 'ProfilesThree';
const THREE_FIELDS = ['profiles.email', 'profiles.first_name', 'profiles.last_name'];

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 3000, events: 10 } } });
  for (const [name, fields] of [
    [ALL, undefined],
    [THREE, THREE_FIELDS],
  ] as const) {
    await engine.api.create({
      name,
      apiKey: engine.sandbox.keys.full,
      baseUrl: engine.sandbox.baseUrl,
      tables: ['profiles'],
      fields: fields ? [...fields] : undefined,
    });
  }
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

/** Runs a dataflow; returns its result and the bytes of profile pages the sandbox sent meanwhile. */
async function runMeasured(name: string): Promise<{ result: RunResult; sandboxBytes: number; queries: string[] }> {
  engine.sandbox.resetRequestLog();
  const result = await engine.api.waitForRun(await engine.api.run(name));
  const profilePages = engine.sandbox.requestLog().filter((r) => r.table === 'profiles' && r.status === 200);
  return {
    result,
    sandboxBytes: profilePages.reduce((sum, r) => sum + r.bytes, 0),
    queries: profilePages.map((r) => r.query),
  };
}

test('selecting 3 profile fields instead of all cuts the bytes fetched for profiles by at least half', async () => {
  const all = await runMeasured(ALL);
  const three = await runMeasured(THREE);
  const allBytes = all.result.tables[0].bytes;
  const threeBytes = three.result.tables[0].bytes;
  console.log(
    `profiles (3000 rows): all default fields ${allBytes} bytes (sandbox log ${all.sandboxBytes}), ` +
      `3 fields ${threeBytes} bytes (sandbox log ${three.sandboxBytes}): ratio ${(threeBytes / allBytes).toFixed(3)}`,
  );
  expect(all.result.tables[0].rows).toBe(3000);
  expect(three.result.tables[0].rows).toBe(3000);
  expect(threeBytes).toBeLessThanOrEqual(allBytes / 2);
  expect(three.sandboxBytes).toBeLessThanOrEqual(all.sandboxBytes / 2);
}, 120_000);

test('a new dataflow reads profiles without predictive_analytics, which would cost a slower rate tier', async () => {
  const { queries } = await runMeasured(ALL);
  expect(queries.length).toBeGreaterThan(0);
  expect(queries.filter((q) => decodeURIComponent(q).includes('predictive_analytics'))).toEqual([]);
  const tables = await engine.api.tables(ALL);
  expect(tables.find((t) => t.name === 'profiles')).toMatchObject({ fieldsSelected: 15, fieldsTotal: 16 });
}, 120_000);

test('--include-fields selects predictive_analytics and the reads ask Klaviyo for it', async () => {
  await engine.api.edit(THREE, { includeFields: ['profiles.predictive_analytics'] });
  const tables = await engine.api.tables(THREE);
  // The edit starts again from the defaults (every field but the slow-tier ones), plus the included field.
  expect(tables.find((t) => t.name === 'profiles')).toMatchObject({ fieldsSelected: 16, fieldsTotal: 16 });
  const { queries } = await runMeasured(THREE);
  // The key check probes the scope with a one-row page of the first field; the extraction's pages follow.
  const extraction = queries.filter((q) => new URLSearchParams(q).get('page[size]') !== '1');
  const asked = extraction.map((q) => new URLSearchParams(q).get('additional-fields[profile]')?.split(',') ?? []);
  expect(asked.length).toBeGreaterThan(0);
  expect(asked.filter((fields) => !fields.includes('predictive_analytics'))).toEqual([]);
}, 120_000);
