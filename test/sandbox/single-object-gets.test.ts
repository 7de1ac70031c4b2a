import { CATALOG } from '../../klaviyo/catalog';
import { Dataset } from '../../sandbox/data/dataset';
import { OBJECT_ROUTES } from '../../sandbox/http/object-routes';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, firstError, get, readAll, type JsonApiResource } from './http-helpers';

/**
 * Single-object GETs (`/api/<collection>/{id}`) of every catalog resource, and campaign recipient estimations: the
 * object a list answer lists, by id, with the includes and additional fields only these GETs offer.
 */

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 21,
    sizes: { profiles: 200, events: 400, lists: 6, campaigns: 12 },
    rateLimits: { enabled: false },
  });
});

afterAll(() => sandbox.close());

/** The first id of a resource type (a fan-out table lists `<parent id>:<id>`). */
async function firstIdOf(type: string): Promise<string> {
  const table = CATALOG.find((t) => t.name === Dataset.tableOfType(type))!;
  const [id] = await collect(sandbox.expectedIds(table.name));
  return table.parent ? id.slice(id.indexOf(':') + 1) : id;
}

const single = (answer: { body: unknown }) => (answer.body as { data: JsonApiResource }).data;

describe('single-object GETs', () => {
  test.each(OBJECT_ROUTES.filter((r) => r.type !== 'campaign-recipient-estimation').map((r) => [r.path, r] as const))(
    'GET %s answers the resource with that id, and 404 not_found for an id the account lacks',
    async (_path, route) => {
      const id = await firstIdOf(route.type);
      const answer = await get(sandbox, route.path.replace('{id}', encodeURIComponent(id)));
      expect(answer.status).toBe(200);
      expect(single(answer)).toMatchObject({ type: route.type, id });
      expect((answer.body as unknown as { links: { self: string } }).links.self).toContain(
        route.path.replace('{id}', encodeURIComponent(id)),
      );
      const missing = await get(sandbox, route.path.replace('{id}', 'no-such-id'));
      expect(missing.status).toBe(404);
      expect(firstError(missing).code).toBe('not_found');
    },
  );

  test('a list read alone equals the list in the list answer, with a trailing slash too', async () => {
    const { rows } = await readAll(sandbox, '/api/lists');
    for (const row of rows) {
      const answer = await get(sandbox, `/api/lists/${row.id}/`);
      expect(single(answer)).toEqual(row);
    }
  });

  test("profile_count, asked for with additional-fields[list], is the list's member count; the list endpoint refuses it", async () => {
    const members = await collect(sandbox.expectedIds('list_memberships'));
    for (const listId of await collect(sandbox.expectedIds('lists'))) {
      const plain = await get(sandbox, `/api/lists/${listId}`);
      expect(single(plain).attributes).not.toHaveProperty('profile_count');
      const counted = await get(sandbox, `/api/lists/${listId}?additional-fields[list]=profile_count`);
      expect(single(counted).attributes?.profile_count).toBe(members.filter((m) => m.startsWith(`${listId}:`)).length);
    }
    expect((await get(sandbox, '/api/lists?additional-fields[list]=profile_count')).status).toBe(400);
  });

  test('profile_count moves a list GET to the 1/s · 15/m tier, as Klaviyo documents', async () => {
    const [listId] = await collect(sandbox.expectedIds('lists'));
    sandbox.setRateLimits({ enabled: true });
    try {
      const path = `/api/lists/${listId}?additional-fields[list]=profile_count`;
      const first = await get(sandbox, path);
      expect(first.headers.get('ratelimit-limit')).toBe('15');
      const second = await get(sandbox, path);
      expect(second.status).toBe(429);
      expect((await get(sandbox, `/api/lists/${listId}`)).status).toBe(200);
    } finally {
      sandbox.setRateLimits({ enabled: false });
    }
  });

  test("a profile's lists, included on its single GET, are the lists it is a member of", async () => {
    const members = await collect(sandbox.expectedIds('list_memberships'));
    const [listId, profileId] = members[0].split(':');
    const answer = await get(sandbox, `/api/profiles/${profileId}?include=lists`);
    const included = (answer.body.included ?? []).map((r) => `${r.type}:${r.id}`);
    expect(included).toContain(`list:${listId}`);
    const expected = members.filter((m) => m.endsWith(`:${profileId}`)).map((m) => `list:${m.split(':')[0]}`);
    expect(included.sort()).toEqual(expected.sort());
  });

  test('a single GET needs the same scopes as the list, includes included', async () => {
    const profileId = await firstIdOf('profile');
    const answer = await get(sandbox, `/api/profiles/${profileId}`, { key: sandbox.keys.noProfiles });
    expect(answer.status).toBe(403);
    expect(firstError(answer).code).toBe('permission_denied');
    const eventId = await firstIdOf('event');
    const withProfile = await get(sandbox, `/api/events/${eventId}?include=profile`, { key: sandbox.keys.noProfiles });
    expect(withProfile.status).toBe(403);
  });

  test('a deleted list answers 404 on its single GET, like in the list answer it left', async () => {
    const other = await startSandbox({ seed: 21, sizes: { profiles: 20, events: 20 }, rateLimits: { enabled: false } });
    try {
      const [listId] = await collect(other.expectedIds('lists'));
      expect((await get(other, `/api/lists/${listId}`)).status).toBe(200);
      other.deleteRecords('lists', [listId]);
      expect((await get(other, `/api/lists/${listId}`)).status).toBe(404);
    } finally {
      await other.close();
    }
  });

  test('an event is found by id among many without reading the others', async () => {
    const ids = await collect(sandbox.expectedIds('events'));
    for (const id of [ids[0], ids[ids.length >> 1], ids[ids.length - 1]]) {
      expect(single(await get(sandbox, `/api/events/${id}`)).id).toBe(id);
    }
  });
});

describe('campaign recipient estimations', () => {
  test("estimate a campaign's recipients as the members of the lists it sends to", async () => {
    const members = await collect(sandbox.expectedIds('list_memberships'));
    const { rows } = await readAll(sandbox, "/api/campaigns?filter=equals(messages.channel,'email')");
    expect(rows.length).toBeGreaterThan(0);
    for (const campaign of rows) {
      const answer = await get(sandbox, `/api/campaign-recipient-estimations/${campaign.id}`);
      const included = (campaign.attributes?.audiences as { included: string[] }).included;
      const expected = members.filter((m) => included.includes(m.split(':')[0])).length;
      expect(single(answer)).toMatchObject({
        type: 'campaign-recipient-estimation',
        id: campaign.id,
        attributes: { estimated_recipient_count: expected },
      });
    }
  });

  test('an unknown campaign is a 404, and a key without campaigns:read a 403', async () => {
    expect((await get(sandbox, '/api/campaign-recipient-estimations/NOPE')).status).toBe(404);
    const [campaignId] = await collect(sandbox.expectedIds('campaigns'));
    const key = sandbox.createKey(['lists:read']);
    expect((await get(sandbox, `/api/campaign-recipient-estimations/${campaignId}`, { key })).status).toBe(403);
  });
});
