import { CATALOG, type CatalogTable } from '../../klaviyo/catalog';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { cutText, longText } from '../../sandbox/data/values';
import { RowRandom } from '../../sandbox/random';
import { collect, get, readAll, type JsonApiResource } from './http-helpers';

const SIZES = {
  profiles: 120,
  events: 600,
  lists: 6,
  segments: 4,
  campaigns: 12,
  tags: 5,
  coupons: 5,
  catalogItems: 12,
};

let sandbox: Sandbox;
let twin: Sandbox;
let other: Sandbox;

beforeAll(async () => {
  [sandbox, twin, other] = await Promise.all([
    startSandbox({ seed: 31, sizes: SIZES, rateLimits: { enabled: false } }),
    startSandbox({ seed: 31, sizes: SIZES, rateLimits: { enabled: false } }),
    startSandbox({ seed: 32, sizes: SIZES, rateLimits: { enabled: false } }),
  ]);
});

afterAll(() => Promise.all([sandbox.close(), twin.close(), other.close()]));

/** A path for a table; fan-out tables under a parent that has rows. */
async function pathsOf(target: Sandbox, table: CatalogTable): Promise<string[]> {
  if (table.name === 'campaigns')
    return ['email', 'sms', 'mobile_push'].map((c) => `${table.path}?filter=equals(messages.channel,'${c}')`);
  if (table.name === 'coupon_codes') return [`${table.path}?filter=equals(coupon.id,'10OFF')`];
  if (!table.parent) return [table.path];
  const ids = await collect(target.expectedIds(table.name));
  const parentOf = (id: string) =>
    table.parent!.table === 'catalog_categories' ? id.split(':').slice(0, 4).join(':') : id.split(':')[0];
  const parents = [...new Set(ids.map(parentOf))].slice(0, 2);
  return parents.map((p) => table.path.replace(/\{[^}]+\}/, encodeURIComponent(p)));
}

async function rowsOf(target: Sandbox, name: string, extra = ''): Promise<JsonApiResource[]> {
  const table = CATALOG.find((t) => t.name === name)!;
  const rows: JsonApiResource[] = [];
  for (const path of await pathsOf(target, table)) {
    rows.push(...(await readAll(target, path + (path.includes('?') ? '&' : '?') + extra.replace(/^&/, ''))).rows);
  }
  return rows;
}

/** Does a JSON value fit a catalog apiType such as `string(date-time)|null` or `enum(a,b)`? */
function fits(value: unknown, apiType: string): boolean {
  const [base, nullable] = apiType.endsWith('|null') ? [apiType.slice(0, -5), true] : [apiType, false];
  if (value === null) return nullable;
  if (base.startsWith('enum('))
    return base
      .slice(5, -1)
      .split(',')
      .includes(value as string);
  if (base === 'string(date-time)') return typeof value === 'string' && !Number.isNaN(Date.parse(value));
  if (base === 'string') return typeof value === 'string';
  if (base === 'boolean') return typeof value === 'boolean';
  if (base === 'integer') return Number.isInteger(value);
  if (base === 'number') return typeof value === 'number';
  if (base === 'object') return typeof value === 'object' && !Array.isArray(value);
  if (base.startsWith('array')) return Array.isArray(value);
  throw new Error(`unhandled apiType ${apiType}`);
}

describe('attribute names and types', () => {
  test('every attribute of every table is a catalog field with a value of the catalog type', async () => {
    const problems: string[] = [];
    for (const table of CATALOG.filter((t) => !t.idsOnly)) {
      const extra =
        table.additionalFields.length > 0
          ? `additional-fields[${table.resourceType}]=${table.additionalFields.join(',')}`
          : '';
      const rows = await rowsOf(sandbox, table.name, extra);
      if (rows.length === 0) problems.push(`${table.name}: no rows`);
      const types = new Map(table.fields.map((f) => [f.name, f.apiType]));
      for (const row of rows) {
        for (const [name, value] of Object.entries(row.attributes ?? {})) {
          const type = types.get(name);
          if (!type) problems.push(`${table.name}.${name}: not in the catalog`);
          else if (!fits(value, type))
            problems.push(`${table.name}.${name}: ${JSON.stringify(value)?.slice(0, 60)} is not ${type}`);
        }
      }
    }
    expect(problems.slice(0, 20)).toEqual([]);
  });

  test('profile ids are 26-character ULIDs and list ids 6 characters', async () => {
    for (const id of await collect(sandbox.expectedIds('profiles'))) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    for (const id of await collect(sandbox.expectedIds('lists'))) expect(id).toMatch(/^[0-9A-Za-z]{6}$/);
  });
});

describe('edge values', () => {
  test('profiles carry latitude as a string in some rows and a number in others', async () => {
    const rows = await rowsOf(sandbox, 'profiles');
    const kinds = new Set(rows.map((r) => typeof (r.attributes?.location as { latitude?: unknown } | null)?.latitude));
    expect(kinds).toEqual(new Set(['string', 'number', 'undefined']));
  });

  test('data includes emoji, quotes, backslashes, nulls and $-keyed event properties', async () => {
    const text = JSON.stringify(await rowsOf(sandbox, 'profiles')) + JSON.stringify(await rowsOf(sandbox, 'events'));
    expect(text).toMatch(/\p{Extended_Pictographic}/u);
    expect(text).toContain('\\"');
    expect(text).toContain('\\\\');
    expect(text).toContain('null');
    expect(text).toContain('"$value"');
    expect(text).toContain('"$event_id"');
  });

  test('hostile data is off by default and adds NUL, control characters and SQL-looking text when on', async () => {
    expect(JSON.stringify(await rowsOf(sandbox, 'profiles'))).not.toContain('\\u0000');
    const hostile = await startSandbox({
      seed: 31,
      sizes: { profiles: 60, events: 10 },
      hostile: true,
      rateLimits: { enabled: false },
    });
    try {
      const text = JSON.stringify(await rowsOf(hostile, 'profiles'));
      expect(text).toContain('\\u0000');
      expect(text).toContain('DROP TABLE x; --');
    } finally {
      await hostile.close();
    }
  });
});

/** A lone surrogate: half of a character outside the BMP (an emoji), which is not valid UTF-16. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every string in a JSON value, keys included. */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, out);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      stringsOf(item, out);
    }
  }
  return out;
}

describe('UTF-16', () => {
  test('long texts are cut between characters, never inside an emoji', () => {
    const broken: number[] = [];
    for (let i = 0; i < 3000; i++) {
      if (LONE_SURROGATE.test(longText(1000 + (i % 13), new RowRandom(i, 7, i)))) broken.push(i);
    }
    expect(broken).toEqual([]);
    expect(cutText('ab🎈', 3)).toBe('ab');
    expect(cutText('ab🎈', 4)).toBe('ab🎈');
  });

  test('every string of every table is valid UTF-16 unless hostile data is on', async () => {
    const sizes = { profiles: 400, events: 2000, templates: 60, reviews: 200, catalogItems: 120 };
    const plain = await startSandbox({ seed: 4, sizes, rateLimits: { enabled: false } });
    const hostile = await startSandbox({ seed: 4, sizes, hostile: true, rateLimits: { enabled: false } });
    try {
      const lone = async (target: Sandbox) => {
        const found: string[] = [];
        for (const table of CATALOG.filter((t) => !t.idsOnly)) {
          const extra =
            table.additionalFields.length > 0
              ? `additional-fields[${table.resourceType}]=${table.additionalFields.join(',')}`
              : '';
          for (const text of stringsOf(await rowsOf(target, table.name, extra))) {
            if (LONE_SURROGATE.test(text)) found.push(`${table.name}: ${JSON.stringify(text.slice(0, 40))}`);
          }
        }
        return found;
      };
      expect(await lone(plain)).toEqual([]);
      // The check can see one: hostile data carries lone surrogates on purpose.
      expect((await lone(hostile)).length).toBeGreaterThan(0);
    } finally {
      await Promise.all([plain.close(), hostile.close()]);
    }
  });
});

describe('determinism', () => {
  test('the same seed gives the same keys and the same rows', async () => {
    expect(twin.keys).toEqual(sandbox.keys);
    for (const name of ['profiles', 'events', 'campaign_messages', 'catalog_variants']) {
      const mine = JSON.stringify(await rowsOf(sandbox, name))
        .split(sandbox.baseUrl)
        .join('');
      const theirs = JSON.stringify(await rowsOf(twin, name))
        .split(twin.baseUrl)
        .join('');
      expect(theirs).toEqual(mine);
    }
  });

  test('another seed gives other keys and other rows', async () => {
    expect(other.keys.full).not.toBe(sandbox.keys.full);
    expect(await collect(other.expectedIds('profiles'))).not.toEqual(await collect(sandbox.expectedIds('profiles')));
  });
});

describe('relationships', () => {
  test('events point at existing profiles and metrics', async () => {
    const profiles = new Set(await collect(sandbox.expectedIds('profiles')));
    const metrics = new Set(await collect(sandbox.expectedIds('metrics')));
    for (const event of await rowsOf(sandbox, 'events')) {
      expect(profiles.has((event.relationships?.profile.data as { id: string }).id)).toBe(true);
      expect(metrics.has((event.relationships?.metric.data as { id: string }).id)).toBe(true);
    }
  });

  test('list and segment members are existing profiles, and one list is empty', async () => {
    const profiles = new Set(await collect(sandbox.expectedIds('profiles')));
    for (const table of ['list_memberships', 'segment_memberships']) {
      for (const id of await collect(sandbox.expectedIds(table))) expect(profiles.has(id.split(':')[1])).toBe(true);
    }
    const lists = await collect(sandbox.expectedIds('lists'));
    const members = await collect(sandbox.expectedIds('list_memberships'));
    expect(lists.filter((l) => !members.some((m) => m.startsWith(`${l}:`)))).toHaveLength(1);
  });

  test('campaign messages belong to the campaign they are listed under', async () => {
    for (const id of (await collect(sandbox.expectedIds('campaigns'))).slice(0, 4)) {
      const answer = await get(sandbox, `/api/campaigns/${id}/campaign-messages`);
      expect(answer.body.data.length).toBeGreaterThan(0);
      for (const message of answer.body.data)
        expect(message.relationships?.campaign.data).toEqual({ type: 'campaign', id });
    }
  });

  test('coupon codes, variants, push tokens and tag joins point at existing rows', async () => {
    const coupons = new Set(await collect(sandbox.expectedIds('coupons')));
    for (const code of await collect(sandbox.expectedIds('coupon_codes')))
      expect(coupons.has(code.split('-').slice(0, -1).join('-'))).toBe(true);
    const items = new Set(await collect(sandbox.expectedIds('catalog_items')));
    for (const variant of await rowsOf(sandbox, 'catalog_variants')) {
      expect(items.has((variant.relationships?.item.data as { id: string }).id)).toBe(true);
    }
    const profiles = new Set(await collect(sandbox.expectedIds('profiles')));
    for (const token of await rowsOf(sandbox, 'push_tokens')) {
      expect(profiles.has((token.relationships?.profile.data as { id: string }).id)).toBe(true);
    }
    const lists = new Set(await collect(sandbox.expectedIds('lists')));
    for (const join of await collect(sandbox.expectedIds('tag_lists')))
      expect(lists.has(join.split(':')[1])).toBe(true);
  });

  test('expectedCount agrees with expectedIds for every table', async () => {
    for (const table of CATALOG) {
      expect({ table: table.name, count: sandbox.expectedCount(table.name) }).toEqual({
        table: table.name,
        count: (await collect(sandbox.expectedIds(table.name))).length,
      });
    }
  });
});

describe('laziness', () => {
  test('a million events cost no per-row memory, and their last page is served at once', async () => {
    const before = process.memoryUsage().heapUsed;
    const big = await startSandbox({
      seed: 2,
      sizes: { events: 1_000_000, profiles: 10_000 },
      rateLimits: { enabled: false },
    });
    try {
      expect(big.expectedCount('events')).toBe(1_000_000);
      const answer = await get(big, '/api/events?page[size]=1000&sort=-datetime');
      expect(answer.body.data).toHaveLength(1000);
      const since = await get(
        big,
        `/api/events?page[size]=1000&filter=${encodeURIComponent('greater-or-equal(datetime,2025-12-31T23:00:00Z)')}`,
      );
      expect(since.body.data.length).toBeGreaterThan(0);
      expect(since.body.data.length).toBeLessThan(1000);
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(100 * 2 ** 20);
    } finally {
      await big.close();
    }
  });
});
