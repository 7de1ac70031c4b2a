import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, firstError, get, readAll } from './http-helpers';

/**
 * What makes a warehouse drift from Klaviyo, as the sandbox plays it: archived campaigns and flows listed only when
 * asked, records deleted, events dated in the future, and Klaviyo's own clock in the Date header.
 */
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 23,
    sizes: { profiles: 300, events: 1000, lists: 6, segments: 4, campaigns: 60, flows: 30 },
    rateLimits: { enabled: false },
  });
});

afterAll(() => sandbox.close());

const q = (filter: string) => encodeURIComponent(filter);

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${sandbox.baseUrl}/__sandbox/${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe('archived campaigns and flows', () => {
  test('a listing leaves archived flows out unless the filter asks for them, as Klaviyo does', async () => {
    const plain = await readAll(sandbox, '/api/flows');
    const archived = await readAll(sandbox, `/api/flows?filter=${q('equals(archived,true)')}`);
    const notArchived = await readAll(sandbox, `/api/flows?filter=${q('equals(archived,false)')}`);
    expect(plain.rows.every((r) => r.attributes?.archived === false)).toBe(true);
    expect(archived.rows.length).toBeGreaterThan(0);
    expect(archived.rows.every((r) => r.attributes?.archived === true)).toBe(true);
    expect(notArchived.rows.map((r) => r.id)).toEqual(plain.rows.map((r) => r.id));
    const both = [...plain.rows, ...archived.rows].map((r) => r.id).sort();
    expect(both).toEqual((await collect(sandbox.expectedIds('flows'))).sort());
  });

  test('campaigns: the same, per channel, and expectedCount counts both', async () => {
    let plain = 0;
    let archived = 0;
    for (const channel of ['email', 'sms', 'mobile_push']) {
      const base = `equals(messages.channel,'${channel}')`;
      const rows = (await readAll(sandbox, `/api/campaigns?filter=${q(base)}`)).rows;
      const hidden = (await readAll(sandbox, `/api/campaigns?filter=${q(`and(${base},equals(archived,true))`)}`)).rows;
      expect(rows.every((r) => r.attributes?.archived === false)).toBe(true);
      expect(hidden.every((r) => r.attributes?.archived === true)).toBe(true);
      plain += rows.length;
      archived += hidden.length;
    }
    expect(archived).toBeGreaterThan(0);
    expect(plain + archived).toBe(sandbox.expectedCount('campaigns'));
  });
});

describe('the smallest sparse fieldset', () => {
  test('fields[<type>]=id answers ids with no attributes', async () => {
    const answer = await get(sandbox, '/api/profiles?fields[profile]=id&page[size]=100');
    expect(answer.status).toBe(200);
    expect(answer.body.data).toHaveLength(100);
    for (const row of answer.body.data) expect(row.attributes).toEqual({});
  });
});

describe('clock', () => {
  test('the Date header is the sandbox clock, moved by advance', async () => {
    const before = await get(sandbox, '/api/metrics');
    expect(new Date(before.headers.get('date') as string).toISOString()).toBe(sandbox.clock());
    sandbox.advance({ hours: 2 });
    const after = await get(sandbox, '/api/metrics');
    expect(Date.parse(after.headers.get('date') as string) - Date.parse(before.headers.get('date') as string)).toBe(
      2 * 3_600_000,
    );
  });

  test('future-dated events lie futureHours after the clock, and a datetime filter finds them', async () => {
    const now = sandbox.clock();
    const result = sandbox.advance({ futureEvents: 3, futureHours: 240 });
    expect(result.futureEvents).toBe(3);
    const { rows } = await readAll(sandbox, `/api/events?filter=${q(`greater-than(datetime,${result.clock})`)}`);
    expect(rows).toHaveLength(3);
    const expected = Date.parse(result.clock) + 240 * 3_600_000;
    for (const row of rows) expect(Date.parse(row.attributes?.datetime as string)).toBe(expected);
    expect(Date.parse(result.clock)).toBeGreaterThan(Date.parse(now));
  });
});

describe('deleting records', () => {
  test('a deleted profile leaves the profile listing, the expected ids and the list memberships', async () => {
    const [victim] = await collect(sandbox.expectedIds('profiles'));
    const memberships = (await collect(sandbox.expectedIds('list_memberships'))).filter((id) =>
      id.endsWith(`:${victim}`),
    );
    expect(memberships.length).toBeGreaterThan(0);
    const countBefore = sandbox.expectedCount('list_memberships');

    expect(sandbox.deleteRecords('profiles', [victim])).toEqual({ table: 'profiles', deleted: 1 });
    const listed = (await readAll(sandbox, '/api/profiles?fields[profile]=id&page[size]=100')).rows.map((r) => r.id);
    expect(listed).not.toContain(victim);
    expect(listed).toHaveLength(299);
    expect(sandbox.expectedCount('profiles')).toBe(299);
    expect(await collect(sandbox.expectedIds('profiles'))).not.toContain(victim);
    expect(sandbox.expectedCount('list_memberships')).toBe(countBefore - memberships.length);
    const [listId] = memberships[0].split(':');
    const members = (await readAll(sandbox, `/api/lists/${listId}/profiles?page[size]=100`)).rows.map((r) => r.id);
    expect(members).not.toContain(victim);
  });

  test('over HTTP: a deleted list leaves the listing and its members path answers 404', async () => {
    const [list] = await collect(sandbox.expectedIds('lists'));
    const answer = await admin('POST', 'delete', { table: 'lists', ids: [list] });
    expect(answer).toEqual({ status: 200, json: { table: 'lists', deleted: 1 } });
    expect((await readAll(sandbox, '/api/lists')).rows.map((r) => r.id)).not.toContain(list);
    const members = await get(sandbox, `/api/lists/${list}/profiles`);
    expect(members.status).toBe(404);
    expect(firstError(members).code).toBe('not_found');
    expect((await collect(sandbox.expectedIds('list_memberships'))).some((id) => id.startsWith(`${list}:`))).toBe(
      false,
    );
  });

  test('a deleted flow takes its actions and their messages with it', async () => {
    const flow = (await readAll(sandbox, `/api/flows?filter=${q('equals(archived,true)')}`)).rows[0].id;
    const actions = (await collect(sandbox.expectedIds('flow_actions'))).filter((id) => id.startsWith(`${flow}:`));
    const actionsBefore = sandbox.expectedCount('flow_actions');
    const messagesBefore = sandbox.expectedCount('flow_messages');
    sandbox.deleteRecords('flows', [flow]);
    expect(sandbox.expectedCount('flows')).toBe(29);
    expect(sandbox.expectedCount('flow_actions')).toBe(actionsBefore - actions.length);
    expect(sandbox.expectedCount('flow_messages')).toBeLessThanOrEqual(messagesBefore);
    const action = actions[0].split(':')[1];
    expect((await get(sandbox, `/api/flow-actions/${action}/flow-messages`)).status).toBe(404);
  });

  test('unknown tables and ids, and rows that are not records of their own, are refused in words', async () => {
    expect(await admin('POST', 'delete', { table: 'nope', ids: ['x'] })).toEqual({
      status: 404,
      json: { error: 'Unknown table "nope"' },
    });
    const unknown = await admin('POST', 'delete', { table: 'campaigns', ids: ['not-a-campaign'] });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toEqual({ error: 'The account has no campaigns with id not-a-campaign' });
    expect((await admin('POST', 'delete', { table: 'list_memberships', ids: ['x'] })).status).toBe(400);
    expect((await admin('POST', 'delete', { table: 'campaigns', ids: [] })).status).toBe(400);
    // A failed request deletes nothing.
    expect(sandbox.expectedCount('campaigns')).toBe(60);
  });
});
