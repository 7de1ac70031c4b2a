import { KLAVIYO_REVISION } from '../../klaviyo/catalog';
import { startTestEngine, type TestEngine } from '../support/engine';

/**
 * A run against a Klaviyo that marks the project's pinned revision deprecated (the sandbox judged a year after
 * 2026-07-15) still imports, and its notices say the revision is deprecated and when it retires.
 */
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 50, events: 50 }, revisionsAsOf: '2027-08-01' } });
  await engine.api.create({
    name: 'RevisionNotice',
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['lists', 'tags'],
  });
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

test("a run's notices say that the pinned revision is deprecated", async () => {
  const result = await engine.api.waitForRun(await engine.api.run('RevisionNotice'));
  expect(result.tables.map((t) => t.table).sort()).toEqual(['lists', 'tags']);
  expect(result.notices).toContainEqual(
    expect.stringContaining(
      `API revision ${KLAVIYO_REVISION}, which this version of klaviyo-dataflows uses, is deprecated`,
    ),
  );
  expect(result.notices.join('\n')).toContain('retires on 2028-07-15');
});
