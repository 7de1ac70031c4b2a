import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, get } from './http-helpers';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 17,
    sizes: { profiles: 60, events: 300 },
    rateLimits: { enabled: false },
    requestLogCapacity: 5,
  });
});

beforeEach(() => sandbox.resetRequestLog());

afterAll(() => sandbox.close());

async function admin(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string; json: unknown }> {
  const response = await fetch(`${sandbox.baseUrl}/__sandbox/${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

describe('request log', () => {
  test('each request is logged with path, query, table, page, status and bytes', async () => {
    const first = await get(sandbox, '/api/profiles?page[size]=10');
    await get(sandbox, first.body.links.next!);
    await get(sandbox, '/api/profiles', { key: null });
    const entries = sandbox.requestLog();
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({
      method: 'GET',
      path: '/api/profiles',
      query: 'page[size]=10',
      table: 'profiles',
      page: 1,
      status: 200,
    });
    expect(entries[0].bytes).toBe(Buffer.byteLength(first.text));
    expect(entries[1]).toMatchObject({ page: 2, cursor: expect.any(String) });
    expect(entries[2]).toMatchObject({ status: 401, table: 'profiles' });
    expect(JSON.stringify(entries)).not.toContain(sandbox.keys.full);
  });

  test('an entry is timed when the request arrived, and its duration includes an injected delay', async () => {
    sandbox.setFaults({ rules: [{ table: 'lists', kind: 'slow', delayMs: 400 }] });
    try {
      const before = Date.now();
      await get(sandbox, '/api/lists');
      const after = Date.now();
      const [entry] = sandbox.requestLog();
      // Order, not a number of milliseconds (a loaded machine adds its own): the entry's time falls after the request
      // was sent and at least its duration, which holds the 400 ms delay, before the answer came back.
      expect(entry.durationMs).toBeGreaterThanOrEqual(390);
      expect(Date.parse(entry.time)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(entry.time) + entry.durationMs).toBeLessThanOrEqual(after + 1);
      expect(entry.fault).toBe('slow');
    } finally {
      sandbox.setFaults({});
    }
  });

  test('the log keeps only the newest entries, while per-table counts keep counting', async () => {
    for (let i = 0; i < 7; i++) await get(sandbox, '/api/lists');
    await get(sandbox, '/api/events');
    expect(sandbox.requestLog()).toHaveLength(5);
    expect(sandbox.requestLog().at(-1)?.table).toBe('events');
    expect(sandbox.requestCounts()).toEqual({ lists: 7, events: 1 });
  });

  test('reset empties the log and the counters', async () => {
    await get(sandbox, '/api/lists');
    sandbox.resetRequestLog();
    expect(sandbox.requestLog()).toEqual([]);
    expect(sandbox.requestCounts()).toEqual({});
  });
});

describe('admin HTTP API', () => {
  test('GET info describes the sandbox', async () => {
    const answer = await admin('GET', 'info');
    expect(answer.json).toMatchObject({
      baseUrl: sandbox.baseUrl,
      keys: sandbox.keys,
      seed: 17,
      clock: sandbox.clock(),
    });
  });

  test('PUT faults replaces the fault configuration, and an invalid one is a 400', async () => {
    expect((await admin('PUT', 'faults', { rules: [{ table: 'lists', status: 502 }] })).status).toBe(200);
    expect((await get(sandbox, '/api/lists')).status).toBe(502);
    expect((await admin('GET', 'faults')).json).toEqual({ rules: [{ table: 'lists', status: 502 }] });
    expect((await admin('PUT', 'faults', { errorRate: 5 })).status).toBe(400);
    await admin('PUT', 'faults', {});
    expect((await get(sandbox, '/api/lists')).status).toBe(200);
  });

  test('PUT rate-limits switches limits on with a scale and off again', async () => {
    await admin('PUT', 'rate-limits', { enabled: true, scale: 0.01 });
    expect((await get(sandbox, '/api/accounts')).status).toBe(200);
    expect((await get(sandbox, '/api/accounts')).status).toBe(429);
    await admin('PUT', 'rate-limits', { enabled: false });
    expect((await get(sandbox, '/api/accounts')).status).toBe(200);
  });

  test('POST keys creates a key with the given scopes and DELETE revokes it', async () => {
    const created = (await admin('POST', 'keys', { scopes: ['lists:read'] })).json as { key: string };
    expect(created.key).toMatch(/^pk_[A-Za-z0-9]{34}$/);
    expect((await get(sandbox, '/api/lists', { key: created.key })).status).toBe(200);
    expect((await get(sandbox, '/api/profiles', { key: created.key })).status).toBe(403);
    expect((await admin('DELETE', `keys/${created.key}`)).status).toBe(204);
    expect((await get(sandbox, '/api/lists', { key: created.key })).status).toBe(401);
    expect((await admin('POST', 'keys', { scopes: ['nope:read'] })).status).toBe(400);
  });

  test('POST advance moves the clock and adds events', async () => {
    const before = sandbox.expectedCount('events');
    const answer = await admin('POST', 'advance', { addEvents: 12, changeProfiles: 3 });
    expect(answer.json).toMatchObject({ addedEvents: 12, changedProfiles: 3, clock: sandbox.clock() });
    expect(sandbox.expectedCount('events')).toBe(before + 12);
    expect((await admin('POST', 'advance', { addEvents: 'many' })).status).toBe(400);
  });

  test('GET expected gives the count and the ids of a table', async () => {
    expect((await admin('GET', 'expected/list_memberships')).json).toEqual({
      table: 'list_memberships',
      count: sandbox.expectedCount('list_memberships'),
    });
    const ids = (await admin('GET', 'expected/events/ids')).text.trim().split('\n');
    expect(ids).toEqual(await collect(sandbox.expectedIds('events')));
    expect((await admin('GET', 'expected/nope')).status).toBe(404);
  });

  test('GET requests returns the log and counts; POST requests/reset clears them', async () => {
    await get(sandbox, '/api/lists');
    const answer = (await admin('GET', 'requests')).json as { entries: unknown[]; counts: Record<string, number> };
    expect(answer.entries).toHaveLength(1);
    expect(answer.counts).toEqual({ lists: 1 });
    expect((await admin('POST', 'requests/reset')).status).toBe(204);
    expect((await admin('GET', 'requests/counts')).json).toEqual({});
  });

  test('admin calls are not logged and need no key', async () => {
    await admin('GET', 'info');
    expect(sandbox.requestLog()).toEqual([]);
  });
});
