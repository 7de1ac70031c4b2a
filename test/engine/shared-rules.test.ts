import { startTestEngine, type TestEngine } from '../support/engine';
import { runCli } from './cli-process';

/**
 * Rules the CLI and the web console share because they live in DataflowApi: what a key cannot read is
 * recorded and refused alike by create and edit, a no-op edit writes nothing, rollback refuses early,
 * history belongs to the dataflow that has the name now, and exit codes follow reportOf.
 */
let engine: TestEngine;
const LIMITED = 'LimitedFlow';
const REUSED = 'ReusedFlow';

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 20, metrics: 4, lists: 3 } } });
  await engine.api.create({
    name: LIMITED,
    apiKey: engine.sandbox.keys.noProfiles,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['metrics', 'lists'],
    displayName: 'Limited store',
    description: 'No profiles scope',
  });
}, 120_000);

afterAll(async () => {
  await engine?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; type?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

test('tables() tells a table the key cannot read, and the scope it lacks, from one the user deselected', async () => {
  const rows = await engine.api.tables(LIMITED);
  const profiles = rows.find((r) => r.name === 'profiles');
  expect(profiles).toMatchObject({
    readable: false,
    missingScopes: ['profiles:read'],
    selected: false,
    selectedFields: [],
  });
  expect(profiles?.availableFields.map((f) => f.name)).toContain('email');
  const events = rows.find((r) => r.name === 'events');
  expect(events).toMatchObject({ readable: true, missingScopes: [], selected: false });
  const metrics = rows.find((r) => r.name === 'metrics');
  expect(metrics?.readable).toBe(true);
  expect(metrics?.selectedFields.length).toBe(metrics?.fieldsSelected);
  expect(metrics?.availableFields[0]).toEqual({ name: expect.any(String), type: expect.any(String) });
});

test('the CLI says "unreadable (needs profiles:read)" and lists fields with --fields', async () => {
  const plain = await runCli(engine.env, ['tables', LIMITED]);
  expect(plain.code).toBe(0);
  expect(plain.stdout).toMatch(/^Data\s+profiles\s+\S+\s+unreadable \(needs profiles:read\)/m);
  expect(plain.stdout).toMatch(/^\S+\s+events\s+\S+\s+no\s/m);
  const fields = await runCli(engine.env, ['tables', LIMITED, '--fields']);
  expect(fields.code).toBe(0);
  expect(fields.stdout).toMatch(/^profiles: unreadable \(needs profiles:read\)/m);
  expect(fields.stdout).toMatch(/^metrics: selected, \d+\/\d+ fields\n {2}\* \w+/m);
});

test('edit refuses tables the saved key cannot read, with the words create uses, and changes nothing', async () => {
  const before = await engine.api.get(LIMITED);
  const byCreate = await rejection(
    engine.api.create({
      name: 'OtherFlow',
      apiKey: engine.sandbox.keys.noProfiles,
      baseUrl: engine.sandbox.baseUrl,
      tables: ['profiles', 'events'],
    }),
  );
  const byEdit = await rejection(engine.api.edit(LIMITED, { tables: ['profiles', 'events'] }));
  expect(byEdit.message).toBe(byCreate.message);
  expect(byEdit.message).toMatch(/cannot read the table "profiles": it needs the scope profiles:read/);
  const after = await engine.api.get(LIMITED);
  expect(after.updatedAt).toEqual(before.updatedAt);
  expect(after.tablesCount).toBe(2);
  const cli = await runCli(engine.env, ['edit', LIMITED, '--tables', 'profiles,events']);
  expect(cli.code).toBe(2);
  expect(cli.stderr).toContain('needs the scope profiles:read');
});

test('a no-op edit writes nothing and says so; a real one does', async () => {
  const before = await engine.api.get(LIMITED);
  const same = await engine.api.edit(LIMITED, { displayName: 'Limited store', tables: ['metrics', 'lists'] });
  expect(same.changed).toBe(false);
  expect((await engine.api.get(LIMITED)).updatedAt).toEqual(before.updatedAt);
  const cli = await runCli(engine.env, ['edit', LIMITED, '--description', 'No profiles scope']);
  expect(cli.code).toBe(0);
  expect(cli.stdout).toMatch(/^Nothing to change/);
  const changed = await engine.api.edit(LIMITED, { description: 'Still no profiles' });
  expect(changed.changed).toBe(true);
  expect(changed.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime());
});

test('show prints the display name and description', async () => {
  const shown = await runCli(engine.env, ['show', LIMITED]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/^Display name:\s+Limited store$/m);
  expect(shown.stdout).toMatch(/^Description:\s+Still no profiles$/m);
  expect(shown.stdout).not.toContain(engine.sandbox.keys.noProfiles);
});

test('rollback with nothing to go back to is refused before any workflow starts', async () => {
  const refused = await rejection(engine.api.rollback(LIMITED));
  expect(refused).toMatchObject({ code: 'NothingToRollBack' });
  expect(refused.message).toBe(
    'Dataflow "LimitedFlow" has no committed version yet: nothing to roll back. Run it first with `dataflow run LimitedFlow`.',
  );
  await engine.api.waitForRun(await engine.api.run(LIMITED));
  const once = await rejection(engine.api.rollback(LIMITED));
  expect(once).toMatchObject({ code: 'NothingToRollBack' });
  expect(once.message).toMatch(/shows version 1 and keeps no earlier committed version/);
  expect((await engine.api.history(LIMITED)).map((r) => r.operation)).toEqual(['run']);
  const cli = await runCli(engine.env, ['rollback', LIMITED, '--json']);
  expect(cli.code).toBe(2);
  expect(JSON.parse(cli.stderr.trim())).toMatchObject({ code: 'NothingToRollBack' });
}, 60_000);

test('history shows a rollback as from → to versions', async () => {
  await engine.api.waitForRun(await engine.api.run(LIMITED));
  const rolled = await engine.api.rollback(LIMITED);
  expect(rolled).toMatchObject({ fromVersion: 2, toVersion: 1 });
  const history = await engine.api.history(LIMITED);
  expect(history[0]).toMatchObject({ operation: 'rollback', fromVersion: 2, toVersion: 1, status: 'COMPLETED' });
  const cli = await runCli(engine.env, ['history', LIMITED]);
  expect(cli.stdout).toMatch(/^rollback\s+manual\s+COMPLETED\s+2 → 1\s/m);
}, 60_000);

test('a dataflow created again under a removed one’s name shows only its own history', async () => {
  const create = () =>
    engine.api.create({
      name: REUSED,
      apiKey: engine.sandbox.keys.full,
      baseUrl: engine.sandbox.baseUrl,
      tables: ['metrics'],
    });
  await create();
  await engine.api.waitForRun(await engine.api.run(REUSED));
  await engine.api.remove(REUSED);
  // No dataflow has the name: the removed one's history is still there.
  expect((await engine.api.history(REUSED)).map((r) => r.operation)).toEqual(['remove', 'run']);
  await create();
  expect(await engine.api.history(REUSED)).toEqual([]);
  const started = await engine.api.run(REUSED);
  await engine.api.waitForRun(started);
  expect((await engine.api.history(REUSED)).map((r) => r.runId)).toEqual([started.runId]);
}, 90_000);

test('a base URL that is not a URL is refused in words a user can act on, exit 2', async () => {
  const refused = await rejection(
    engine.api.create({ name: 'BadHost', apiKey: engine.sandbox.keys.full, baseUrl: 'notaurl' }),
  );
  expect(refused.message).toMatch(/^The base URL "notaurl" is not a URL: give the Klaviyo API host with its scheme/);
  expect(await rejection(engine.api.edit(LIMITED, { baseUrl: 'notaurl' }))).toMatchObject({ message: refused.message });
  const cli = await runCli(engine.env, ['create', 'BadHost', '--base-url', 'notaurl'], {
    apiKey: engine.sandbox.keys.full,
  });
  expect(cli.code).toBe(2);
  expect(cli.stderr).toContain('is not a URL: give the Klaviyo API host');
  expect(cli.stderr).not.toContain('Invalid Klaviyo client options');
  expect(cli.stderr).not.toContain(engine.sandbox.keys.full);
});

test('usage errors exit 2: a bad --group-by choice and an unknown option', async () => {
  const groupBy = await runCli(engine.env, ['list', '--group-by', 'foo']);
  expect(groupBy.code).toBe(2);
  expect(groupBy.stderr).toMatch(/Allowed choices are name, type, status/);
  expect((await runCli(engine.env, ['list', '--nonsense'])).code).toBe(2);
  expect((await runCli(engine.env, ['--help'])).code).toBe(0);
});
