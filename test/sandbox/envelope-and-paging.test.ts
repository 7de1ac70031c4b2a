import { CATALOG } from '../../klaviyo/catalog';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, firstError, get, readAll, tablePath } from './http-helpers';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 11,
    sizes: { profiles: 230, events: 1500, metrics: 450, lists: 23, tags: 4 },
    rateLimits: { enabled: false },
  });
});

afterAll(() => sandbox.close());

const pathOf = (name: string) => tablePath(sandbox, name);

describe('the JSON:API envelope', () => {
  test('every catalog endpoint answers 200 with data, links.self and the Klaviyo content type', async () => {
    for (const table of CATALOG) {
      const answer = await get(sandbox, await pathOf(table.name));
      expect({ table: table.name, status: answer.status }).toEqual({ table: table.name, status: 200 });
      expect(answer.headers.get('content-type')).toBe('application/vnd.api+json');
      expect(Array.isArray(answer.body.data)).toBe(true);
      expect(answer.body.links.self.startsWith(sandbox.baseUrl + '/api/')).toBe(true);
    }
  });

  test('a resource carries type, id, attributes, relationships with links, and an absolute links.self', async () => {
    const answer = await get(sandbox, '/api/events?page[size]=1');
    const [event] = answer.body.data;
    expect(event.type).toBe('event');
    expect(event.links?.self).toBe(`${sandbox.baseUrl}/api/events/${event.id}/`);
    expect(Object.keys(event.attributes ?? {}).sort()).toEqual(['datetime', 'event_properties', 'timestamp', 'uuid']);
    expect(event.relationships?.profile.data).toEqual({ type: 'profile', id: expect.any(String) });
    expect(event.relationships?.metric.links?.related).toBe(`${sandbox.baseUrl}/api/events/${event.id}/metric/`);
  });

  test('relationship endpoints return only type and id', async () => {
    const answer = await get(sandbox, await pathOf('tag_lists'));
    expect(answer.body.data.length).toBeGreaterThan(0);
    for (const row of answer.body.data) expect(Object.keys(row).sort()).toEqual(['id', 'type']);
  });

  test('/api/accounts returns the one account of the key as a one-element array', async () => {
    const answer = await get(sandbox, '/api/accounts');
    expect(answer.body.data).toHaveLength(1);
    expect(answer.body.data[0].type).toBe('account');
    expect(answer.body.data[0].id).toMatch(/^[0-9A-Za-z]{6}$/);
    expect(answer.body.links.next).toBeUndefined();
  });
});

describe('paging', () => {
  test('links.next is absolute, repeats the query and percent-encodes brackets', async () => {
    const answer = await get(sandbox, '/api/profiles?page[size]=7&sort=-created&fields[profile]=email');
    const next = answer.body.links.next!;
    expect(next.startsWith(`${sandbox.baseUrl}/api/profiles?page%5Bcursor%5D=`)).toBe(true);
    expect(next).toContain('page%5Bsize%5D=7');
    expect(next).toContain('sort=-created');
    expect(next).toContain('fields%5Bprofile%5D=email');
  });

  test('the cursor is opaque URL-safe text', async () => {
    const answer = await get(sandbox, '/api/profiles?page[size]=7');
    const cursor = new URL(answer.body.links.next!).searchParams.get('page[cursor]')!;
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test('following links.next reads every profile exactly once, and the last page has no next', async () => {
    const { rows, pages } = await readAll(sandbox, '/api/profiles?page[size]=100');
    expect(pages).toBe(3);
    expect(rows.map((r) => r.id)).toEqual(await collect(sandbox.expectedIds('profiles')));
  });

  test('the page size defaults to the endpoint default', async () => {
    expect((await get(sandbox, '/api/profiles')).body.data).toHaveLength(20);
    expect((await get(sandbox, '/api/events')).body.data).toHaveLength(200);
    expect((await get(sandbox, '/api/lists')).body.data).toHaveLength(10);
  });

  test('a page size above the maximum is a 400 naming page[size]', async () => {
    const answer = await get(sandbox, '/api/profiles?page[size]=101');
    expect(answer.status).toBe(400);
    const error = firstError(answer);
    expect(error).toMatchObject({ status: 400, code: 'invalid', source: { parameter: 'page[size]' } });
    expect(error.detail).toContain('between 1 and 100');
  });

  test('a page size below the minimum or not a number is a 400', async () => {
    expect((await get(sandbox, '/api/events?page[size]=0')).status).toBe(400);
    expect((await get(sandbox, '/api/events?page[size]=ten')).status).toBe(400);
    expect((await get(sandbox, '/api/events?page[size]=1000')).status).toBe(200);
  });

  test('metrics are paged 200 at a time and take no page size', async () => {
    const { rows, pages } = await readAll(sandbox, '/api/metrics');
    expect(pages).toBe(3);
    expect(rows).toHaveLength(450);
    expect((await get(sandbox, '/api/metrics?page[size]=10')).status).toBe(400);
  });

  test('unpaged endpoints return every row at once with no next link', async () => {
    const answer = await get(sandbox, await pathOf('campaign_messages'));
    expect(answer.status).toBe(200);
    expect(answer.body.links.next).toBeUndefined();
    const all = await get(sandbox, '/api/webhook-topics');
    expect(all.body.data).toHaveLength(sandbox.expectedCount('webhook_topics'));
    expect((await get(sandbox, '/api/webhooks?page[size]=1')).status).toBe(400);
  });

  test('fan-out paths serve the parent rows and paging works under them', async () => {
    const path = await pathOf('list_memberships');
    const listId = decodeURIComponent(path.split('/')[3]);
    const { rows } = await readAll(sandbox, `${path}?page[size]=10`);
    const expected = (await collect(sandbox.expectedIds('list_memberships')))
      .filter((id) => id.startsWith(`${listId}:`))
      .map((id) => id.slice(listId.length + 1));
    expect(rows.map((r) => r.id)).toEqual(expected);
    expect(rows[0].attributes).toHaveProperty('joined_group_at');
  });

  test('an unknown parent id is a 404 not_found', async () => {
    const answer = await get(sandbox, '/api/lists/NOPE00/profiles');
    expect(answer.status).toBe(404);
    expect(firstError(answer).code).toBe('not_found');
  });

  test('a cursor used with a different filter or sort is refused', async () => {
    const first = await get(sandbox, '/api/profiles?page[size]=5&sort=created');
    const cursor = new URL(first.body.links.next!).searchParams.get('page[cursor]')!;
    const answer = await get(sandbox, `/api/profiles?page[size]=5&sort=-created&page[cursor]=${cursor}`);
    expect(answer.status).toBe(400);
    expect(firstError(answer).source).toEqual({ parameter: 'page[cursor]' });
  });
});

describe('paths', () => {
  test('a trailing slash serves the same page', async () => {
    const without = await get(sandbox, '/api/lists?page[size]=3');
    const withSlash = await get(sandbox, '/api/lists/?page[size]=3');
    expect(withSlash.status).toBe(200);
    expect(withSlash.body.data).toEqual(without.body.data);
    expect((await get(sandbox, (await pathOf('tag_lists')) + '/')).status).toBe(200);
  });

  test('an unknown path is a 404 in Klaviyo error shape', async () => {
    const answer = await get(sandbox, '/api/not-a-thing');
    expect(answer.status).toBe(404);
    expect(firstError(answer)).toMatchObject({ status: 404, code: 'not_found' });
  });

  test('a method other than GET is a 405', async () => {
    const response = await fetch(`${sandbox.baseUrl}/api/profiles`, {
      method: 'POST',
      headers: { Authorization: `Klaviyo-API-Key ${sandbox.keys.full}`, revision: '2026-07-15' },
    });
    expect(response.status).toBe(405);
  });
});
