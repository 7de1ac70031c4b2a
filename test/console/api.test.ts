import { Client as PgClient } from 'pg';
import { validateDataflowName } from '../../control-plane/dataflow-name';
import { API_ROUTES } from '../../console/server/api-routes';
import type {
  ConnectResult,
  DataflowListItem,
  DataflowView,
  EntityPreview,
  EntityView,
  HistoryRecord,
  NameCheck,
  RunProgressView,
  SavedTable,
  ScheduleView,
} from '../../console/api-types';
import { startTestEngine, type TestEngine } from '../support/engine';
import { keyFragments, startTestConsole, type TestConsole } from '../support/console';

/**
 * The console's JSON API over HTTP, against a real Temporal dev server, Postgres, the sandbox and a worker:
 * the same rules and words as the CLI, errors with stable codes, and never the key in an answer.
 */
let engine: TestEngine;
let consoleServer: TestConsole;
let baseUrl: string;
const NAME = 'ApiAcme';

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { sizes: { profiles: 120, events: 600, lists: 2, segments: 2, campaigns: 3, flows: 2, tags: 2 } },
  });
  consoleServer = await startTestConsole(engine);
  baseUrl = engine.sandbox.baseUrl;
}, 120_000);

afterAll(async () => {
  await consoleServer?.close();
  await engine?.stop();
});

const call = <T>(method: string, path: string, body?: unknown) => consoleServer.call<T>(method, path, { body });

async function settle(name: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const { body } = await call<RunProgressView | null>('GET', `/api/dataflows/${name}/progress`);
    if (body === null) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${name} still running after 120 s`);
}

async function schemaExists(schema: string): Promise<boolean> {
  const client = new PgClient({ connectionString: engine.database.url });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return rows.length > 0;
  } finally {
    await client.end();
  }
}

test('the OpenAPI document describes every route the server answers', async () => {
  const { status, body } = await call<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
    'GET',
    '/api/openapi.json',
  );
  expect(status).toBe(200);
  expect(body.openapi).toBe('3.1.0');
  for (const route of API_ROUTES) {
    expect(body.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()]).toBeDefined();
  }
  const create = body.paths['/api/dataflows'].post as {
    requestBody: { content: Record<string, { schema: { required: string[] } }> };
  };
  expect(create.requestBody.content['application/json'].schema.required).toEqual(['name', 'apiKey']);
});

test('a bad name is refused with the rule’s words, the same the CLI prints', async () => {
  for (const bad of ['9lives', 'has space', 'dash-ed', '']) {
    const { body } = await call<NameCheck>('GET', `/api/name-check?name=${encodeURIComponent(bad)}`);
    let words = '';
    try {
      validateDataflowName(bad);
    } catch (err) {
      words = (err as Error).message;
    }
    expect(body).toEqual({ ok: false, code: 'InvalidDataflowName', message: words });
  }
  expect((await call<NameCheck>('GET', `/api/name-check?name=${NAME}`)).body).toEqual({ ok: true });
});

test('a wrong key is refused at Connect with Klaviyo’s reason and a stable code', async () => {
  const { status, body } = await call<{ error: { code: string; message: string; url?: string } }>(
    'POST',
    '/api/connect',
    {
      apiKey: 'pk_0123456789abcdef0123456789abcdef01',
      baseUrl,
    },
  );
  expect(status).toBe(422);
  expect(body.error.code).toBe('KlaviyoInvalidApiKey');
  expect(body.error.message).toMatch(/Klaviyo rejected the API key pk_…ef01/);
  expect(body.error.url).toBeUndefined();
});

test('a request without a key says which field is missing', async () => {
  const { status, body } = await call<{ error: { code: string; field: string } }>('POST', '/api/connect', { baseUrl });
  expect(status).toBe(400);
  expect(body.error).toMatchObject({ code: 'InvalidRequest', field: 'apiKey' });
});

test('Connect with a key lacking profiles:read shows profiles unreadable, naming the scope, and saves nothing', async () => {
  const { status, body } = await call<ConnectResult>('POST', '/api/connect', {
    apiKey: engine.sandbox.keys.noProfiles,
    baseUrl,
  });
  expect(status).toBe(200);
  const profiles = body.tables.find((t) => t.name === 'profiles');
  expect(profiles).toMatchObject({
    readable: false,
    missingScopes: ['profiles:read'],
    purpose: 'Data',
    type: 'profile',
  });
  expect(body.tables.find((t) => t.name === 'events')).toMatchObject({ readable: true, missingScopes: [] });
  expect((await call<DataflowListItem[]>('GET', '/api/dataflows')).body).toEqual([]);
});

test('Connect marks the slow-tier fields and leaves them unticked by default, as the CLI does', async () => {
  const { body } = await call<ConnectResult>('POST', '/api/connect', { apiKey: engine.sandbox.keys.full, baseUrl });
  const profiles = body.tables.find((t) => t.name === 'profiles')!;
  expect(profiles.fields.find((f) => f.name === 'predictive_analytics')).toMatchObject({
    slowTier: true,
    defaultSelected: false,
  });
  expect(profiles.fields.find((f) => f.name === 'email')).toMatchObject({ slowTier: false, defaultSelected: true });
  expect(body.apiKeyMask).toBe(`pk_…${engine.sandbox.keys.full.slice(-4)}`);
});

test('creating with a table the key cannot read is refused in the CLI’s words', async () => {
  const { status, body } = await call<{ error: { code: string; message: string } }>('POST', '/api/dataflows', {
    name: 'NoScope',
    apiKey: engine.sandbox.keys.noProfiles,
    baseUrl,
    tables: [{ name: 'profiles', fields: ['email'] }],
  });
  expect(status).toBe(400);
  expect(body.error.message).toContain(
    'The API key cannot read the table "profiles": it needs the scope profiles:read.',
  );
});

test('create saves exactly the tables and fields chosen, and shows the key only masked', async () => {
  const { status, body } = await call<DataflowView>('POST', '/api/dataflows', {
    name: NAME,
    displayName: 'Acme store',
    description: 'from the API test',
    apiKey: engine.sandbox.keys.full,
    baseUrl,
    tables: [
      { name: 'profiles', fields: ['email', 'updated'] },
      { name: 'metrics', fields: [] },
      { name: 'events', fields: ['datetime', 'uuid'] },
    ],
  });
  expect(status).toBe(201);
  expect(body).toMatchObject({ name: NAME, displayName: 'Acme store', tablesCount: 3, status: 'New', type: 'Klaviyo' });
  expect(body.apiKey).toBe(`pk_…${engine.sandbox.keys.full.slice(-4)}`);
  const tables = (await call<SavedTable[]>('GET', `/api/dataflows/${NAME}/tables`)).body;
  expect(
    tables
      .filter((t) => t.selected)
      .map((t) => [t.name, t.selectedFields])
      .sort(),
  ).toEqual([
    ['events', ['datetime', 'uuid']],
    ['metrics', []],
    ['profiles', ['email', 'updated']],
  ]);
  const again = await call<NameCheck>('GET', `/api/name-check?name=${NAME.toLowerCase()}`);
  expect(again.body).toMatchObject({ ok: false, code: 'DataflowExists' });
});

test('a run shows live progress, then Succeeded with its entities, a preview and its history', async () => {
  const started = await call<{ url: string }>('POST', `/api/dataflows/${NAME}/runs`, {});
  expect(started.status).toBe(202);
  expect(started.body.url).toContain('/workflows/dataflow-apiacme/');
  const busy = await call<{ error: { code: string } }>('POST', `/api/dataflows/${NAME}/runs`, {});
  expect([busy.status, busy.body.error.code]).toEqual([409, 'DataflowBusy']);
  await settle(NAME);

  const row = (await call<DataflowListItem[]>('GET', '/api/dataflows')).body.find((d) => d.name === NAME)!;
  expect(row).toMatchObject({ status: 'Succeeded', tablesCount: 3, currentVersion: 1, running: null });
  expect(Date.parse(row.lastRefresh!)).toBeGreaterThan(Date.parse(row.created));

  const entities = (await call<EntityView[]>('GET', `/api/dataflows/${NAME}/entities`)).body;
  expect(entities.find((e) => e.table === 'profiles')).toMatchObject({ rows: 120, version: 1 });
  const preview = (await call<EntityPreview>('GET', `/api/dataflows/${NAME}/entities/events/preview`)).body;
  expect(preview.rows).toHaveLength(50);
  expect(preview.columns).toEqual(expect.arrayContaining(['id', 'datetime', 'uuid', '_version']));
  const missing = await call<{ error: { code: string } }>('GET', `/api/dataflows/${NAME}/entities/lists/preview`);
  expect([missing.status, missing.body.error.code]).toEqual([400, 'EntityNotFound']);

  const history = (await call<HistoryRecord[]>('GET', `/api/dataflows/${NAME}/history`)).body;
  expect(history[0]).toMatchObject({ operation: 'run', status: 'COMPLETED', version: 1, description: null });
  expect(history[0].rows).toBe(entities.reduce((sum, e) => sum + e.rows, 0));
}, 180_000);

test('a failed run’s Description is the failure in the user’s words, and the list shows it', async () => {
  engine.sandbox.setFaults({ rules: [{ table: 'metrics', kind: 'status', status: 400 }] });
  try {
    await call('POST', `/api/dataflows/${NAME}/runs`, {});
    await settle(NAME);
  } finally {
    engine.sandbox.setFaults({});
  }
  const history = (await call<HistoryRecord[]>('GET', `/api/dataflows/${NAME}/history`)).body;
  expect(history[0].status).toBe('FAILED');
  expect(history[0].description).toMatch(/metrics/);
  const row = (await call<DataflowListItem[]>('GET', '/api/dataflows')).body.find((d) => d.name === NAME)!;
  expect(row.status).toBe('Failed');
  expect(row.lastError).toBe(history[0].description);
}, 180_000);

test('rollback goes back one committed version and says from which to which', async () => {
  await call('POST', `/api/dataflows/${NAME}/runs`, { full: true });
  await settle(NAME);
  const { status, body } = await call<{ fromVersion: number; toVersion: number }>(
    'POST',
    `/api/dataflows/${NAME}/rollback`,
    {},
  );
  expect(status).toBe(200);
  expect(body).toMatchObject({ fromVersion: 2, toVersion: 1 });
  const history = (await call<HistoryRecord[]>('GET', `/api/dataflows/${NAME}/history`)).body;
  expect(history[0]).toMatchObject({ operation: 'rollback', status: 'COMPLETED', fromVersion: 2, toVersion: 1 });
  const nothing = await call<{ error: { code: string } }>('POST', `/api/dataflows/${NAME}/rollback`, {});
  expect([nothing.status, nothing.body.error.code]).toEqual([400, 'NothingToRollBack']);
}, 180_000);

test('a schedule is set, paused, resumed and deleted, and the dataflow shows its spec', async () => {
  const set = await call<ScheduleView>('PUT', `/api/dataflows/${NAME}/schedule`, { every: '6h' });
  expect(set.body).toMatchObject({ spec: 'every 6h', paused: false });
  expect((await call<DataflowView>('GET', `/api/dataflows/${NAME}`)).body.schedule?.spec).toBe('every 6h');
  expect((await call<ScheduleView>('POST', `/api/dataflows/${NAME}/schedule/pause`, {})).body.paused).toBe(true);
  expect((await call<ScheduleView>('POST', `/api/dataflows/${NAME}/schedule/resume`, {})).body.paused).toBe(false);
  const bad = await call<{ error: { code: string; message: string } }>('PUT', `/api/dataflows/${NAME}/schedule`, {
    every: 'often',
  });
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toMatch(/Invalid interval "often"/);
  expect((await call('DELETE', `/api/dataflows/${NAME}/schedule`)).body).toEqual({ deleted: true });
  expect((await call('GET', `/api/dataflows/${NAME}/schedule`)).body).toBeNull();
});

/** Polls the progress until the run waits for a decision, and returns that progress. */
async function untilNeedsAttention(name: string): Promise<RunProgressView> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { body } = await call<RunProgressView | null>('GET', `/api/dataflows/${name}/progress`);
    if (body?.phase === 'needs-attention') return body;
    if (body === null) throw new Error(`${name}'s run ended instead of waiting for attention`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${name} never came to need attention`);
}

/** profiles has 120 rows read 100 a page: page 2 is met only by a full read, never by the scope check. */
const PROFILES_PAGE_2_REFUSED = { rules: [{ table: 'profiles', page: 2, kind: 'status' as const, status: 400 }] };

test('a table that fails for good leaves the run needing attention; Retry re-reads it and commits', async () => {
  engine.sandbox.setFaults(PROFILES_PAGE_2_REFUSED);
  let waiting: RunProgressView;
  try {
    await call('POST', `/api/dataflows/${NAME}/runs`, { full: true });
    waiting = await untilNeedsAttention(NAME);
  } finally {
    engine.sandbox.setFaults({});
  }
  expect(waiting.tables.find((t) => t.table === 'profiles')).toMatchObject({ state: 'failed' });
  expect(
    waiting.tables
      .filter((t) => t.state === 'done')
      .map((t) => t.table)
      .sort(),
  ).toEqual(['events', 'metrics']);
  expect(Date.parse(waiting.attention!.discardAt)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
  const row = (await call<DataflowListItem[]>('GET', '/api/dataflows')).body.find((d) => d.name === NAME)!;
  expect(row.status).toBe('NeedsAttention');
  expect(row.lastError).toMatch(/^Needs attention: "profiles": Klaviyo refused the request/);
  expect(row.running?.progress?.phase).toBe('needs-attention');
  const history = (await call<HistoryRecord[]>('GET', `/api/dataflows/${NAME}/history`)).body;
  expect(history[0]).toMatchObject({ status: 'NEEDS_ATTENTION', version: waiting.version });
  expect(history[0].description).toMatch(/^Needs attention: "profiles"/);

  const wrong = await call<{ error: { code: string; message: string } }>('POST', `/api/dataflows/${NAME}/retry`, {
    tables: ['events'],
  });
  expect([wrong.status, wrong.body.error.code]).toEqual([400, 'TableNotFailed']);
  expect(wrong.body.error.message).toContain('"events" did not fail');

  engine.sandbox.resetRequestLog();
  const retried = await call<{ tables: string[]; version: number }>('POST', `/api/dataflows/${NAME}/retry`, {});
  expect(retried.status).toBe(202);
  expect(retried.body).toMatchObject({ tables: ['profiles'], version: waiting.version });
  await settle(NAME);
  expect([...new Set(engine.sandbox.requestLog().map((r) => r.table))]).toEqual(['profiles']);
  const after = (await call<HistoryRecord[]>('GET', `/api/dataflows/${NAME}/history`)).body;
  expect(after[0]).toMatchObject({ status: 'COMPLETED', version: waiting.version, description: null });
  const dataflow = (await call<DataflowView>('GET', `/api/dataflows/${NAME}`)).body;
  expect(dataflow).toMatchObject({ status: 'Succeeded', currentVersion: waiting.version, lastError: null });
}, 180_000);

test('Discard ends a run that needs attention as failed, with the table’s error as its Description', async () => {
  engine.sandbox.setFaults(PROFILES_PAGE_2_REFUSED);
  let waiting: RunProgressView;
  try {
    await call('POST', `/api/dataflows/${NAME}/runs`, { full: true });
    waiting = await untilNeedsAttention(NAME);
  } finally {
    engine.sandbox.setFaults({});
  }
  const live = (await call<DataflowView>('GET', `/api/dataflows/${NAME}`)).body.currentVersion;
  const discarded = await call<{ version: number; error: string }>('POST', `/api/dataflows/${NAME}/discard`, {});
  expect(discarded.status).toBe(200);
  expect(discarded.body.version).toBe(waiting.version);
  expect(discarded.body.error).toMatch(/^Klaviyo refused the request for the table "profiles" as invalid/);
  const history = (await call<HistoryRecord[]>('GET', `/api/dataflows/${NAME}/history`)).body;
  expect(history[0]).toMatchObject({ status: 'FAILED', description: discarded.body.error });
  const row = (await call<DataflowListItem[]>('GET', '/api/dataflows')).body.find((d) => d.name === NAME)!;
  expect(row).toMatchObject({ status: 'Failed', lastError: discarded.body.error, currentVersion: live, running: null });
  const again = await call<{ error: { code: string } }>('POST', `/api/dataflows/${NAME}/discard`, {});
  expect([again.status, again.body.error.code]).toEqual([400, 'NothingWaiting']);
}, 180_000);

test('an unknown dataflow is a 404 with the CLI’s words', async () => {
  const { status, body } = await call<{ error: { code: string; message: string } }>('GET', '/api/dataflows/Nobody');
  expect(status).toBe(404);
  expect(body.error).toEqual({ code: 'DataflowNotFound', message: 'No dataflow named "Nobody".' });
});

test('a body that is not JSON is refused without quoting it back', async () => {
  const key = engine.sandbox.keys.full;
  const response = await fetch(`${consoleServer.url}/api/connect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"apiKey": "${key}"`,
  });
  const text = await response.text();
  expect(response.status).toBe(400);
  expect(JSON.parse(text)).toEqual({ error: { code: 'InvalidJson', message: 'The request body is not valid JSON.' } });
  const form = await fetch(`${consoleServer.url}/api/connect`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: key,
  });
  expect(form.status).toBe(415);
  expect(await form.text()).not.toContain(key);
});

test('remove needs the name as confirmation, then leaves no schema behind', async () => {
  const unconfirmed = await call<{ error: { code: string } }>('DELETE', `/api/dataflows/${NAME}?confirm=other`);
  expect([unconfirmed.status, unconfirmed.body.error.code]).toEqual([400, 'NotConfirmed']);
  expect(await schemaExists('apiacme')).toBe(true);
  const removed = await call<{ dataflow: string }>('DELETE', `/api/dataflows/${NAME}?confirm=${NAME}`);
  expect(removed.status).toBe(200);
  expect(await schemaExists('apiacme')).toBe(false);
  expect((await call<DataflowListItem[]>('GET', '/api/dataflows')).body).toEqual([]);
});

test("remove refuses while a user's view depends on a table, naming it; cascade=true drops the view too", async () => {
  await engine.api.create({
    name: 'ApiCascade',
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['tags'],
  });
  await engine.api.waitForRun(await engine.api.run('ApiCascade'));
  const pg = new PgClient({ connectionString: engine.database.url });
  await pg.connect();
  try {
    await pg.query('CREATE VIEW public.apicascade_tags AS SELECT id FROM apicascade.tags');
    const refused = await call<{ error: { code: string; message: string } }>(
      'DELETE',
      '/api/dataflows/ApiCascade?confirm=ApiCascade',
    );
    expect([refused.status, refused.body.error]).toEqual([
      409,
      {
        code: 'DependentObjects',
        message:
          'The view public.apicascade_tags depends on apicascade.tags; drop it first, or remove with --cascade to ' +
          'drop it too. Nothing was removed.',
      },
    ]);
    expect(await schemaExists('apicascade')).toBe(true);
    // Cascading is no way around the confirmation.
    const unconfirmed = await call<{ error: { code: string } }>(
      'DELETE',
      '/api/dataflows/ApiCascade?confirm=other&cascade=true',
    );
    expect([unconfirmed.status, unconfirmed.body.error.code]).toEqual([400, 'NotConfirmed']);
    const removed = await call<{ droppedTables: number; droppedDependents: string[] }>(
      'DELETE',
      '/api/dataflows/ApiCascade?confirm=ApiCascade&cascade=true',
    );
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ droppedTables: 1, droppedDependents: ['view public.apicascade_tags'] });
    expect(await schemaExists('apicascade')).toBe(false);
    const { rows } = await pg.query("SELECT to_regclass('public.apicascade_tags') IS NULL AS gone");
    expect(rows).toEqual([{ gone: true }]);
  } finally {
    await pg.end();
  }
});

test('no answer of this file held any part of a key', () => {
  const fragments = Object.values(engine.sandbox.keys).flatMap(keyFragments);
  const leaks = consoleServer.answers.filter((answer) => fragments.some((f) => answer.includes(f)));
  expect(consoleServer.answers.length).toBeGreaterThan(20);
  expect(leaks).toEqual([]);
});
