import { updateDataflow } from '../../control-plane/dataflows';
import { SecretBox } from '../../control-plane/secret-box';
import type { Entity } from '../../warehouse/entities';
import type { StartedOperation } from '../../client/dataflow-api';
import type { RunRecord } from '../../client/run-history';
import { readConfig } from '../../shared/config';
import { startTestEngine, type TestEngine } from '../support/engine';
import { activityRecords, type ActivityRecord } from './workflow-events';

/**
 * Runs that cannot succeed because of the key: Klaviyo rejects it, or it lacks a scope a selected
 * table needs. Either way the run fails at once, says why, extracts nothing and leaves the live version alone.
 */
let engine: TestEngine;
const TABLES = ['accounts', 'profiles', 'events', 'metrics', 'lists'];

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 150, events: 600, metrics: 4, lists: 3 } } });
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

async function failureOf(started: StartedOperation): Promise<Error> {
  return engine.api.waitForRun(started).then(
    () => {
      throw new Error(`The run ${started.workflowId}/${started.runId} succeeded; it was expected to fail.`);
    },
    (err: unknown) => err as Error,
  );
}

async function historyRow(name: string, runId: string): Promise<RunRecord> {
  const row = (await engine.api.history(name)).find((r) => r.runId === runId);
  if (!row) throw new Error(`The run ${runId} is missing from the history of ${name}.`);
  return row;
}

describe('a run with a key Klaviyo rejects', () => {
  const NAME = 'RevokedKey';
  let key: string;
  let before: Entity[];
  let failed: StartedOperation;
  let failure: Error;
  let activities: Map<string, ActivityRecord>;

  beforeAll(async () => {
    key = engine.sandbox.createKey('full');
    await engine.api.create({ name: NAME, apiKey: key, baseUrl: engine.sandbox.baseUrl, tables: TABLES });
    await engine.api.waitForRun(await engine.api.run(NAME));
    before = await engine.api.entities(NAME);
    engine.sandbox.revokeKey(key);
    failed = await engine.api.run(NAME);
    failure = await failureOf(failed);
    activities = await activityRecords(await engine.temporal.client(), failed.workflowId, failed.runId);
  }, 60_000);

  // At once is an order, not a number of seconds (a loaded machine makes seconds of anything): nothing between the
  // start and the failure waits — no timer, no activity attempted twice.
  test('ends Failed at once: no timer and no retried activity in its history', async () => {
    const row = await historyRow(NAME, failed.runId);
    expect(row.status).toBe('FAILED');
    const history = await (
      await engine.temporal.client()
    ).workflow
      .getHandle(failed.workflowId, failed.runId)
      .fetchHistory();
    expect((history.events ?? []).filter((e) => e.timerStartedEventAttributes)).toEqual([]);
    expect([...activities.values()].flatMap((a) => a.attempts).filter((n) => n > 1)).toEqual([]);
  });

  test('tries the key exactly once: one validateApiKey call, one attempt, no retry', () => {
    expect(activities.get('validateApiKey')).toEqual({
      scheduled: 1,
      attempts: [1],
      failures: [expect.stringContaining('Klaviyo rejected the API key')],
    });
  });

  test('shows the reason in plain words in the history, with the key masked', async () => {
    const row = await historyRow(NAME, failed.runId);
    expect(row.error).toMatch(/^Klaviyo rejected the API key pk_…\w{4}: .*update the dataflow with a valid key\.$/);
    expect(row.error).not.toContain(key);
    expect(failure.message).toBe(row.error);
  });

  test('extracts nothing: no version is staged', () => {
    expect(activities.has('beginVersion')).toBe(false);
    expect(activities.has('extractTable')).toBe(false);
  });

  test('leaves the previous version live with the same row counts', async () => {
    expect(before.map((e) => e.version)).toEqual(TABLES.map(() => 1));
    expect(await engine.api.entities(NAME)).toEqual(before);
    const dataflow = await engine.api.get(NAME);
    expect({ status: dataflow.status, currentVersion: dataflow.currentVersion }).toEqual({
      status: 'Failed',
      currentVersion: 1,
    });
  });
});

describe('a run whose stored key lacks the scope of a selected table', () => {
  const NAME = 'NoProfilesScope';
  let failed: StartedOperation;
  let failure: Error;
  let activities: Map<string, ActivityRecord>;

  beforeAll(async () => {
    await engine.api.create({
      name: NAME,
      apiKey: engine.sandbox.createKey('full'),
      baseUrl: engine.sandbox.baseUrl,
      tables: TABLES,
    });
    // Klaviyo keys never lose a scope; a key replaced behind the CLI's back is how a run meets one.
    const secrets = await SecretBox.fromConfig(readConfig(engine.env));
    await updateDataflow(engine.api.pool, secrets, NAME, { apiKey: engine.sandbox.keys.noProfiles });
    engine.sandbox.resetRequestLog();
    failed = await engine.api.run(NAME);
    failure = await failureOf(failed);
    activities = await activityRecords(await engine.temporal.client(), failed.workflowId, failed.runId);
  }, 60_000);

  test('fails naming the table and the scope it needs', async () => {
    expect(failure.message).toContain('"profiles" needs profiles:read');
    expect(failure.message).toContain('Add the scopes to the key in Klaviyo');
    expect((await historyRow(NAME, failed.runId)).error).toBe(failure.message);
  });

  test('names only the tables the key cannot read', () => {
    expect(failure.message).not.toMatch(/"(accounts|events|metrics|lists)"/);
  });

  test('fails in validation, once, before any version is staged', () => {
    expect(activities.get('validateApiKey')).toMatchObject({ scheduled: 1, attempts: [1] });
    expect(activities.has('beginVersion')).toBe(false);
    expect(activities.has('extractTable')).toBe(false);
  });

  test('reads no profile and at most one scope probe of events from Klaviyo', () => {
    const log = engine.sandbox.requestLog();
    const profiles = log.filter((r) => r.table === 'profiles');
    expect(profiles.map((r) => r.status)).toEqual([403]);
    // The scope check reads one event with one field; an extraction would ask for full pages.
    const events = log.filter((r) => r.table === 'events');
    expect(events.length).toBeLessThanOrEqual(1);
    for (const request of events) expect(new URLSearchParams(request.query).get('page[size]')).toBe('1');
  });

  test('leaves no table behind', async () => {
    expect(await engine.api.entities(NAME)).toEqual([]);
  });
});
