import { KLAVIYO_REVISION } from '../../klaviyo/catalog';
import { startTestEngine, type TestEngine } from '../support/engine';
import { runCli, type CliOutcome } from '../engine/cli-process';
import { assertNoKeys, scanForKeys } from '../support/key-scan';
import { startTally } from './tally';
import { checkDataflow } from './warehouse-check';

/**
 * Hostile input gets a clear error or is stored faithfully, and nothing executes as SQL: dataflow
 * names and descriptions full of SQL, quotes, unicode and 10,000 characters; values and JSON keys
 * from Klaviyo with quotes, semicolons, $, control characters and NUL (the sandbox's `hostile` data);
 * keys with blanks in them; a key revoked in the middle of a run.
 *
 * NUL (U+0000): Postgres text and jsonb cannot hold it, so the warehouse stores U+FFFD in its place,
 * in text values and in jsonb keys and values alike (warehouse/copy-text.ts), and so is half
 * of a UTF-16 surrogate pair sent alone; every other character is stored as Klaviyo sent it.
 */
const HOSTILE = 'Hostile';
const TABLES = ['profiles', 'events', 'catalog_items'];
const SQLISH = `'; DROP SCHEMA dataflow_control CASCADE; -- "quoted" $1 $$body$$ \\ ✓ 日本語 🙂`;

const tally = startTally('hostile input', __filename);
/** Every key the cases use: none may show in a history. */
const usedKeys: string[] = [];
const cliOutput: CliOutcome[] = [];
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { hostile: true, sizes: { profiles: 400, events: 5000, catalogItems: 150 } },
  });
}, 120_000);

afterAll(async () => {
  tally.save();
  await engine?.stop();
});

/** Everything a request could change in Postgres: the dataflows and the schemas and tables that exist. */
async function snapshot() {
  const { rows } = await engine.api.pool.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND c.relkind IN ('r', 'v') ORDER BY 1`,
  );
  const dataflows = (await engine.api.list()).map((d) => [d.name, d.description, d.currentVersion]);
  return { relations: rows.map((r) => r.name), dataflows };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'accepted',
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

/** Every record of a table, read from the sandbox over HTTP as an independent client. */
async function readAll(path: string): Promise<{ id: string; attributes: Record<string, unknown> }[]> {
  const records: { id: string; attributes: Record<string, unknown> }[] = [];
  let url: string | null = `${engine.sandbox.baseUrl}${path}?page[size]=100`;
  while (url) {
    const response = await fetch(url, {
      headers: { Authorization: `Klaviyo-API-Key ${engine.sandbox.keys.full}`, revision: KLAVIYO_REVISION },
    });
    const body = (await response.json()) as {
      data: { id: string; attributes: Record<string, unknown> }[];
      links?: { next?: string | null };
    };
    records.push(...body.data);
    url = body.links?.next ?? null;
  }
  return records;
}

/** Half of a UTF-16 surrogate pair without its other half: not Unicode, so not storable as UTF-8 either. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** What the warehouse is documented to store for a value Klaviyo sent: U+0000 and lone surrogates become U+FFFD. */
function asStored(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
  if (Array.isArray(value)) return value.map(asStored);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [asStored(k) as string, asStored(v)]));
  }
  return value;
}

describe('dataflow names and descriptions', () => {
  test.each([
    ['SQL', "x'; DROP TABLE dataflow_control.dataflows; --"],
    ['quotes', 'Quote"d'],
    ['unicode', 'Ünïcødé'],
    ['10,000 characters', `A${'b'.repeat(9_999)}`],
  ])('a name with %s is refused in words, and nothing changes', async (_what, name) => {
    const before = await snapshot();
    tally.add({ trials: 1 });
    tally.fire({ 'hostile input': 1 });
    const message = await refusal(
      engine.api.create({
        name,
        apiKey: engine.sandbox.keys.full,
        baseUrl: engine.sandbox.baseUrl,
        tables: ['metrics'],
      }),
    );
    expect(message).not.toBe('accepted');
    expect(message).toMatch(/name/i);
    expect(message.length).toBeLessThan(600);
    expect(await snapshot()).toEqual(before);
    tally.add({ survived: 1 });
  });

  test('a description of 10,000 characters is refused, saying the maximum, and nothing changes', async () => {
    const before = await snapshot();
    tally.add({ trials: 1 });
    tally.fire({ 'hostile input': 1 });
    const message = await refusal(
      engine.api.create({
        name: 'Wordy',
        description: `${SQLISH}${'x'.repeat(10_000 - [...SQLISH].length)}`,
        apiKey: engine.sandbox.keys.full,
        baseUrl: engine.sandbox.baseUrl,
        tables: ['metrics'],
      }),
    );
    expect(message).toMatch(/^The description is 10000 characters long; the maximum is \d+\.$/);
    expect(await snapshot()).toEqual(before);
    tally.add({ survived: 1 });
  });

  test('a display name and the longest description, full of SQL, quotes and unicode, are stored as given', async () => {
    const description = `${SQLISH}\n${'x'.repeat(4_000 - [...SQLISH].length - 1)}`;
    tally.add({ trials: 1 });
    tally.fire({ 'hostile input': 1 });
    await engine.api.create({
      name: 'Storied',
      displayName: SQLISH,
      description,
      apiKey: engine.sandbox.keys.full,
      baseUrl: engine.sandbox.baseUrl,
      tables: ['metrics'],
    });
    const stored = await engine.api.get('Storied');
    expect(stored.displayName).toBe(SQLISH);
    expect(stored.description).toBe(description);
    await engine.api.waitForRun(await engine.api.run('Storied'));
    expect((await checkDataflow(engine.api.pool, engine.sandbox, 'Storied', ['metrics'])).problems).toEqual([]);
    tally.add({ survived: 1 });
  }, 60_000);
});

describe("hostile values and field names from Klaviyo's side", () => {
  beforeAll(async () => {
    await engine.api.create({
      name: HOSTILE,
      apiKey: engine.sandbox.keys.full,
      baseUrl: engine.sandbox.baseUrl,
      tables: TABLES,
    });
    tally.add({ trials: 1 });
    tally.fire({ 'hostile values': 1 });
    await engine.api.waitForRun(await engine.api.run(HOSTILE));
  }, 90_000);

  test('every row arrives once', async () => {
    const check = await checkDataflow(engine.api.pool, engine.sandbox, HOSTILE, TABLES);
    tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
    expect(check.problems).toEqual([]);
    tally.add({ survived: 1 });
  });

  test('text values and JSON keys and values are stored exactly as sent, NUL as U+FFFD', async () => {
    const sent = await readAll('/api/profiles');
    const { rows } = await engine.api.pool.query<{ id: string; organization: string | null; properties: unknown }>(
      'SELECT id, organization, properties FROM hostile.profiles',
    );
    const stored = new Map(rows.map((r) => [r.id, r]));
    const hostileSeen = sent.filter((p) => JSON.stringify(p.attributes).includes('DROP TABLE')).length;
    expect(hostileSeen).toBeGreaterThan(10);
    expect(sent.some((p) => JSON.stringify(p.attributes).includes('\\u0000'))).toBe(true);
    const differences = sent.flatMap((p) => {
      const row = stored.get(p.id);
      const expected = {
        organization: asStored(p.attributes.organization ?? null),
        properties: sortKeys(asStored(p.attributes.properties)),
      };
      const actual = { organization: row?.organization, properties: sortKeys(row?.properties) };
      return JSON.stringify(actual) === JSON.stringify(expected) ? [] : [{ id: p.id, expected, actual }];
    });
    expect(differences.slice(0, 2)).toEqual([]);
    expect(differences).toEqual([]);
  });

  test('nothing ran as SQL: every control table and the other dataflows are untouched', async () => {
    const { relations } = await snapshot();
    expect(relations).toEqual(
      expect.arrayContaining(['dataflow_control.dataflows', 'hostile.profiles', 'hostile.events', 'storied.metrics']),
    );
    expect((await engine.api.list()).map((d) => d.name).sort()).toEqual([HOSTILE, 'Storied']);
  });
});

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

describe('keys', () => {
  test.each([
    ['a space inside', (key: string) => `${key.slice(0, 10)} ${key.slice(10)}`],
    ['a trailing newline', (key: string) => `${key}\n`],
    ['a leading space', (key: string) => ` ${key}`],
  ])('a key with %s is refused with a clear error that does not echo it', async (_what, mangle) => {
    const before = await snapshot();
    tally.add({ trials: 1 });
    tally.fire({ 'hostile input': 1 });
    const key = mangle(engine.sandbox.keys.full);
    const message = await refusal(
      engine.api.create({ name: 'Blanky', apiKey: key, baseUrl: engine.sandbox.baseUrl, tables: ['metrics'] }),
    );
    expect(message).toMatch(/^The API key contains whitespace/);
    expect(message).not.toContain(engine.sandbox.keys.full.slice(3, 20));
    expect(await snapshot()).toEqual(before);
    tally.add({ survived: 1 });
  });

  test('the CLI refuses a piped key with a space inside, exit code 2, without echoing it', async () => {
    const before = await snapshot();
    tally.add({ trials: 1 });
    tally.fire({ 'hostile input': 1 });
    const key = engine.sandbox.keys.full;
    const outcome = await runCli(
      engine.env,
      ['create', 'Blanky', '--api-key-stdin', '--base-url', engine.sandbox.baseUrl, '--tables', 'metrics', '--json'],
      { stdin: `${key.slice(0, 12)} ${key.slice(12)}\n` },
    );
    cliOutput.push(outcome);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain('The API key contains whitespace');
    expect(await snapshot()).toEqual(before);
    tally.add({ survived: 1 });
  }, 30_000);

  test('a key revoked mid-run leaves the run needing attention, saying Klaviyo rejected the key; discarded, it fails and the previous version stays', async () => {
    const key = engine.sandbox.createKey('full');
    usedKeys.push(key);
    await engine.api.edit(HOSTILE, { apiKey: key });
    const before = await engine.api.entities(HOSTILE);
    engine.sandbox.setFaults({ rules: [{ table: 'events', kind: 'slow', delayMs: 1000 }] });
    tally.add({ trials: 1 });
    try {
      // In full: an incremental run would ask only for what changed, and be over before the key is revoked.
      const run = await engine.api.run(HOSTILE, { full: true });
      const handle = engine.api.temporal.workflow.getHandle(run.workflowId, run.runId);
      const deadline = Date.now() + 30_000;
      while ((await engine.api.progress(handle)).phase !== 'extracting') {
        if (Date.now() > deadline) throw new Error('The extraction never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      engine.sandbox.revokeKey(key);
      tally.fire({ 'key revoked': 1 });
      const failure = await engine.api.waitForRun(run).then(
        () => null,
        (err: Error) => err,
      );
      // Every table refused for good: the run keeps its version and waits (the key could be replaced and retried).
      expect(failure?.message).toMatch(/needs attention: .*Klaviyo rejected the API key pk_…/);
      expect(failure?.message).not.toContain(key.slice(3));
      const discarded = await engine.api.discard(HOSTILE);
      expect(discarded.error).toMatch(/^Klaviyo rejected the API key pk_…/);
      expect(discarded.error).not.toContain(key.slice(3));
      expect((await engine.api.history(HOSTILE))[0]).toMatchObject({ status: 'FAILED', error: discarded.error });
    } finally {
      engine.sandbox.setFaults({});
    }
    expect(await engine.api.entities(HOSTILE)).toEqual(before);
    const check = await checkDataflow(engine.api.pool, engine.sandbox, HOSTILE, TABLES);
    tally.add({ rowsLost: check.lost, rowsDuplicated: check.duplicated, rowsWrong: check.wrong });
    expect(check.problems).toEqual([]);
    tally.add({ survived: 1 });
  }, 90_000);

  test('no key used appears in any workflow history or in the CLI’s output', async () => {
    const scan = await scanForKeys(engine, [engine.sandbox.keys.full, ...usedKeys], {
      outputs: { 'CLI runs': cliOutput.flatMap((o) => [o.stdout, o.stderr]) },
    });
    tally.add({ keysLeaked: scan.leaks.length });
    assertNoKeys(scan);
  }, 120_000);
});
