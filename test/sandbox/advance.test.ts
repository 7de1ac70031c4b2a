import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, get, readAll, type JsonApiResource } from './http-helpers';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 13, sizes: { profiles: 200, events: 2000 }, rateLimits: { enabled: false } });
});

afterAll(() => sandbox.close());

const since = (op: string, field: string, iso: string) => `filter=${encodeURIComponent(`${op}(${field},${iso})`)}`;
const seconds = (row: JsonApiResource, name: string) => Date.parse(row.attributes?.[name] as string);

describe('advance', () => {
  test('the clock starts at 2026-01-01 and moves one hour per advance', () => {
    expect(sandbox.clock()).toBe('2026-01-01T00:00:00.000Z');
    sandbox.advance({});
    expect(sandbox.clock()).toBe('2026-01-01T01:00:00.000Z');
  });

  test('changed profiles are exactly those updated after the previous clock, and their attributes changed', async () => {
    const before = sandbox.clock();
    const beforeRows = new Map((await readAll(sandbox, '/api/profiles?page[size]=100')).rows.map((r) => [r.id, r]));
    sandbox.advance({ changeProfiles: 15 });
    const { rows } = await readAll(
      sandbox,
      `/api/profiles?page[size]=100&sort=updated&${since('greater-than', 'updated', before)}`,
    );
    expect(rows).toHaveLength(15);
    for (const row of rows) {
      expect(seconds(row, 'updated')).toBeGreaterThan(Date.parse(before));
      expect(seconds(row, 'updated')).toBeLessThanOrEqual(Date.parse(sandbox.clock()));
      const properties = row.attributes?.properties as Record<string, unknown>;
      expect(properties.sandbox_revision).toBeGreaterThanOrEqual(1);
      expect(row.attributes?.updated).not.toBe(beforeRows.get(row.id)?.attributes?.updated);
    }
    expect(sandbox.expectedCount('profiles')).toBe(200);
  });

  test('added events are dated within the new hour and found by an incremental datetime filter', async () => {
    const before = sandbox.clock();
    sandbox.advance({ addEvents: 40 });
    const { rows } = await readAll(sandbox, `/api/events?page[size]=1000&${since('greater-than', 'datetime', before)}`);
    expect(rows).toHaveLength(40);
    for (const row of rows) expect(seconds(row, 'datetime')).toBeLessThanOrEqual(Date.parse(sandbox.clock()));
    expect(sandbox.expectedCount('events')).toBe(2040);
  });

  test('back-dated events land inside the window and keep datetime sorting and filtering correct', async () => {
    const ids = new Set(await collect(sandbox.expectedIds('events')));
    sandbox.advance({ backdatedEvents: 25, backdateWindowHours: 48 });
    const now = Date.parse(sandbox.clock());
    const fresh = (await collect(sandbox.expectedIds('events'))).filter((id) => !ids.has(id));
    expect(fresh).toHaveLength(25);

    const all = await readAll(sandbox, '/api/events?page[size]=1000&sort=datetime');
    const times = all.rows.map((r) => seconds(r, 'datetime'));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(all.rows).toHaveLength(2065);
    const backdated = all.rows.filter((r) => fresh.includes(r.id));
    for (const row of backdated) {
      expect(seconds(row, 'datetime')).toBeGreaterThanOrEqual(now - 48 * 3600_000);
      expect(seconds(row, 'datetime')).toBeLessThan(now);
    }

    // A look-back window read with the datetime filter (default order) sees every back-dated event.
    const lookBack = new Date(now - 48 * 3600_000).toISOString();
    const window = await readAll(
      sandbox,
      `/api/events?page[size]=1000&${since('greater-or-equal', 'datetime', lookBack)}`,
    );
    const found = new Set(window.rows.map((r) => r.id));
    expect(fresh.every((id) => found.has(id))).toBe(true);
    const descending = await readAll(
      sandbox,
      `/api/events?page[size]=1000&sort=-datetime&${since('greater-or-equal', 'datetime', lookBack)}`,
    );
    expect(descending.rows.map((r) => r.id).sort()).toEqual(window.rows.map((r) => r.id).sort());
  });

  test('an advance over the same data is deterministic across sandboxes with the same seed', async () => {
    const twin = await startSandbox({
      seed: 13,
      sizes: { profiles: 200, events: 2000 },
      rateLimits: { enabled: false },
    });
    try {
      twin.advance({});
      twin.advance({ changeProfiles: 15 });
      twin.advance({ addEvents: 40 });
      twin.advance({ backdatedEvents: 25, backdateWindowHours: 48 });
      expect(await collect(twin.expectedIds('events'))).toEqual(await collect(sandbox.expectedIds('events')));
      const mine = (await get(sandbox, '/api/profiles?page[size]=100&sort=-updated')).body.data.map(
        (r) => r.attributes,
      );
      const theirs = (await get(twin, '/api/profiles?page[size]=100&sort=-updated')).body.data.map((r) => r.attributes);
      expect(theirs).toEqual(mine);
    } finally {
      await twin.close();
    }
  });

  test('a negative amount is refused', () => {
    expect(() => sandbox.advance({ addEvents: -1 })).toThrow(RangeError);
  });
});
