import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { CATALOG } from '../../klaviyo/catalog';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, firstError, get, readAll, tablePath, type JsonApiResource } from './http-helpers';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 21,
    sizes: { profiles: 300, events: 3000, campaigns: 40, coupons: 4, couponCodesPerCoupon: 30 },
    rateLimits: { enabled: false },
  });
});

afterAll(() => sandbox.close());

const q = (filter: string) => encodeURIComponent(filter);
const attr = (row: JsonApiResource, name: string) => row.attributes?.[name];

describe('filter', () => {
  test('greater-than on an unquoted datetime keeps only later rows', async () => {
    const all = (await readAll(sandbox, '/api/profiles?page[size]=100')).rows;
    const cut = attr(all[150], 'updated') as string;
    const { rows } = await readAll(sandbox, `/api/profiles?page[size]=100&filter=${q(`greater-than(updated,${cut})`)}`);
    const expected = all.filter((r) => Date.parse(attr(r, 'updated') as string) > Date.parse(cut));
    expect(rows.map((r) => r.id).sort()).toEqual(expected.map((r) => r.id).sort());
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(all.length);
  });

  test('datetimes with milliseconds and offsets are accepted', async () => {
    const answer = await get(
      sandbox,
      `/api/events?filter=${q('greater-or-equal(datetime,2025-06-01T00:00:00.000+00:00)')}`,
    );
    expect(answer.status).toBe(200);
    for (const row of answer.body.data)
      expect(Date.parse(attr(row, 'datetime') as string)).toBeGreaterThanOrEqual(Date.parse('2025-06-01T00:00:00Z'));
  });

  test('a datetime without a zone is UTC, whatever the host time zone', () => {
    // The time zone must be set before Node starts, hence a child process.
    const code = [
      "const { parseFilter } = require('./sandbox/query/filter');",
      "const { getTable } = require('./klaviyo/catalog');",
      "const [c] = parseFilter(getTable('events'), 'less-than(datetime,2025-02-01T00:00:00)');",
      'process.stdout.write(String(c.value));',
    ].join('\n');
    const output = execFileSync(process.execPath, ['--import', 'tsx', '-e', code], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, TZ: 'America/New_York' },
    });
    expect(Number(output.toString())).toBe(Date.UTC(2025, 1, 1) / 1000);
  });

  test('an offset whose + was not percent-encoded gets a 400 that says so', async () => {
    const answer = await get(sandbox, '/api/events?filter=greater-than(datetime,2025-01-01T00:00:00+00:00)');
    expect(answer.status).toBe(400);
    expect(firstError(answer).detail).toContain('%2B');
  });

  test('and(...) and a comma-separated list both combine conditions', async () => {
    const from = '2025-03-01T00:00:00Z';
    const to = '2025-03-10T00:00:00Z';
    const nested = await readAll(
      sandbox,
      `/api/events?page[size]=1000&filter=${q(`and(greater-or-equal(datetime,${from}),less-than(datetime,${to}))`)}`,
    );
    const commas = await readAll(
      sandbox,
      `/api/events?page[size]=1000&filter=${q(`greater-or-equal(datetime,${from}),less-than(datetime,${to})`)}`,
    );
    expect(nested.rows.length).toBeGreaterThan(0);
    expect(commas.rows.map((r) => r.id)).toEqual(nested.rows.map((r) => r.id));
    for (const row of nested.rows) {
      const t = Date.parse(attr(row, 'datetime') as string);
      expect(t >= Date.parse(from) && t < Date.parse(to)).toBe(true);
    }
  });

  test('equals on a relationship id keeps the events of that profile only', async () => {
    const first = (await get(sandbox, '/api/events?page[size]=1')).body.data[0];
    const profileId = (first.relationships?.profile.data as { id: string }).id;
    const { rows } = await readAll(
      sandbox,
      `/api/events?page[size]=1000&filter=${q(`equals(profile_id,'${profileId}')`)}`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect((row.relationships?.profile.data as { id: string }).id).toBe(profileId);
  });

  test('strings may be single- or double-quoted, with backslash escapes', async () => {
    const [profile] = (await get(sandbox, '/api/profiles?page[size]=1')).body.data;
    const email = attr(profile, 'email') as string;
    const single = await get(sandbox, `/api/profiles?filter=${q(`equals(email,'${email}')`)}`);
    const double = await get(sandbox, `/api/profiles?filter=${q(`equals(email,${JSON.stringify(email)})`)}`);
    expect(single.body.data.map((r) => r.id)).toEqual([profile.id]);
    expect(double.body.data.map((r) => r.id)).toEqual([profile.id]);
    expect((await get(sandbox, `/api/profiles?filter=${q(`equals(email,"it\\"s")`)}`)).status).toBe(200);
  });

  test('any(...) takes a list', async () => {
    const ids = (await collect(sandbox.expectedIds('profiles'))).slice(3, 6);
    const answer = await get(sandbox, `/api/profiles?filter=${q(`any(id,['${ids.join("','")}'])`)}`);
    expect(answer.body.data.map((r) => r.id)).toEqual(ids);
  });

  test('booleans are unquoted', async () => {
    const { rows } = await readAll(sandbox, `/api/segments?filter=${q('equals(is_starred,true)')}`);
    for (const row of rows) expect(attr(row, 'is_starred')).toBe(true);
    expect((await get(sandbox, `/api/segments?filter=${q("equals(is_starred,'true')")}`)).status).toBe(400);
  });

  test.each([
    ['a field the endpoint does not filter on', 'equals(first_name,"Ana")', 'first_name'],
    ['an operator the field does not allow', 'greater-or-equal(updated,2025-01-01T00:00:00Z)', 'greater-or-equal'],
    ['a quoted datetime', "greater-than(updated,'2025-01-01T00:00:00Z')", 'quoted'],
    ['an unquoted string', 'equals(email,ana@example.com)', 'quoted'],
    ['a broken expression', 'equals(email,"a"', 'expected'],
    ['an unknown operator', 'like(email,"a")', 'like'],
    ['an invalid datetime', 'greater-than(updated,2025-13-45)', 'datetime'],
  ])('%s is a 400 with source.parameter filter', async (_what, filter, mention) => {
    const answer = await get(sandbox, `/api/profiles?filter=${q(filter)}`);
    expect(answer.status).toBe(400);
    const error = firstError(answer);
    expect(error.code).toBe('invalid');
    expect(error.source).toEqual({ parameter: 'filter' });
    expect(error.detail).toContain(mention);
  });

  test('campaigns require the messages.channel filter', async () => {
    const answer = await get(sandbox, '/api/campaigns');
    expect(answer.status).toBe(400);
    expect(firstError(answer).detail).toContain('messages.channel');
    // Each channel in two passes: Klaviyo lists archived campaigns only when asked (see test/sandbox/deletions-and-archived).
    let read = 0;
    for (const channel of ['email', 'sms', 'mobile_push']) {
      for (const archived of ['', ',equals(archived,true)']) {
        read += (
          await readAll(sandbox, `/api/campaigns?filter=${q(`equals(messages.channel,'${channel}')${archived}`)}`)
        ).rows.length;
      }
    }
    expect(read).toBe(sandbox.expectedCount('campaigns'));
    expect((await get(sandbox, `/api/campaigns?filter=${q("equals(messages.channel,'fax')")}`)).status).toBe(400);
  });

  test('coupon codes require a coupon.id filter and return that coupon’s codes', async () => {
    expect((await get(sandbox, '/api/coupon-codes')).status).toBe(400);
    const { rows } = await readAll(sandbox, `/api/coupon-codes?filter=${q("equals(coupon.id,'10OFF')")}`);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.id.startsWith('10OFF-')).toBe(true);
  });
});

describe('sort', () => {
  test('sort=-created returns the newest profiles first', async () => {
    const { rows } = await readAll(sandbox, '/api/profiles?page[size]=100&sort=-created');
    const times = rows.map((r) => Date.parse(attr(r, 'created') as string));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(rows).toHaveLength(300);
  });

  test('sort=updated pages in ascending updated order without losing rows across page boundaries', async () => {
    const { rows } = await readAll(sandbox, '/api/profiles?page[size]=7&sort=updated');
    const times = rows.map((r) => Date.parse(attr(r, 'updated') as string));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(rows.map((r) => r.id)).size).toBe(300);
  });

  test('sort=-datetime on events starts with the latest event', async () => {
    const { rows } = await readAll(sandbox, '/api/events?page[size]=1000&sort=-datetime');
    const times = rows.map((r) => attr(r, 'timestamp') as number);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(rows).toHaveLength(3000);
  });

  test('a sort value the endpoint does not list is a 400 naming sort', async () => {
    const answer = await get(sandbox, '/api/profiles?sort=first_name');
    expect(answer.status).toBe(400);
    expect(firstError(answer).source).toEqual({ parameter: 'sort' });
  });
});

describe('sparse fieldsets', () => {
  test('fields[profile] keeps only the named attributes, nested paths included', async () => {
    const answer = await get(sandbox, '/api/profiles?fields[profile]=email,location.city');
    for (const row of answer.body.data) {
      expect(Object.keys(row.attributes ?? {}).every((k) => ['email', 'location'].includes(k))).toBe(true);
      const location = attr(row, 'location') as Record<string, unknown> | null | undefined;
      if (location) expect(Object.keys(location)).toEqual(['city']);
    }
  });

  test('an unknown field is a 400 naming the fields parameter', async () => {
    const answer = await get(sandbox, '/api/profiles?fields[profile]=email,shoe_size');
    expect(answer.status).toBe(400);
    expect(firstError(answer).source).toEqual({ parameter: 'fields[profile]' });
    expect(firstError(answer).detail).toContain('shoe_size');
  });

  test('fields of an included type apply to the included resources', async () => {
    const answer = await get(sandbox, '/api/events?page[size]=5&include=metric&fields[metric]=name');
    expect(answer.body.included?.length).toBeGreaterThan(0);
    for (const metric of answer.body.included ?? []) expect(Object.keys(metric.attributes ?? {})).toEqual(['name']);
  });
});

describe('include', () => {
  test('include=metric,profile adds each related resource once to included[]', async () => {
    const answer = await get(sandbox, '/api/events?page[size]=200&include=metric,profile');
    const included = answer.body.included ?? [];
    const keys = included.map((r) => `${r.type}:${r.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    const wanted = new Set(
      answer.body.data.flatMap((e) =>
        ['profile', 'metric'].map((rel) => {
          const data = e.relationships?.[rel].data as { type: string; id: string };
          return `${data.type}:${data.id}`;
        }),
      ),
    );
    expect(new Set(keys)).toEqual(wanted);
    expect(included.find((r) => r.type === 'profile')?.attributes).toHaveProperty('email');
  });

  test('an include the endpoint does not offer is a 400', async () => {
    const answer = await get(sandbox, '/api/events?include=campaign');
    expect(answer.status).toBe(400);
    expect(firstError(answer).source).toEqual({ parameter: 'include' });
  });

  test('repeating a parameter is a 400', async () => {
    expect((await get(sandbox, '/api/events?include=metric&include=profile')).status).toBe(400);
  });
});

describe('additional-fields', () => {
  test('subscriptions and predictive_analytics are absent unless asked for', async () => {
    const plain = (await get(sandbox, '/api/profiles?page[size]=5')).body.data;
    for (const row of plain) {
      expect(row.attributes).not.toHaveProperty('subscriptions');
      expect(row.attributes).not.toHaveProperty('predictive_analytics');
    }
    const asked = (
      await get(sandbox, '/api/profiles?page[size]=5&additional-fields[profile]=subscriptions,predictive_analytics')
    ).body.data;
    for (const row of asked) {
      expect(row.attributes).toHaveProperty('subscriptions.email.marketing.consent');
      expect(row.attributes).toHaveProperty('predictive_analytics');
    }
  });

  test('an unknown additional field is a 400', async () => {
    expect((await get(sandbox, '/api/profiles?additional-fields[profile]=shoe_size')).status).toBe(400);
    expect((await get(sandbox, '/api/profiles?additional-fields[event]=x')).status).toBe(400);
  });
});

describe('every endpoint', () => {
  /** A well-typed value for a catalog filter value type. */
  function sample(valueType: string, op: string): string {
    const type = valueType.replace(/\|null$/, '');
    let value: string;
    if (type.includes('date-time')) value = '2025-01-01T00:00:00Z';
    else if (type === 'boolean') value = 'true';
    else if (type === 'number' || type === 'integer') value = '1';
    else if (type.startsWith('enum(')) value = `'${type.slice(5, -1).split(',')[0]}'`;
    else value = "'x'";
    return op === 'any' ? `[${value}]` : value;
  }

  const withPath = (path: string, param: string) => `${path}${path.includes('?') ? '&' : '?'}${param}`;

  test('accepts each listed sort and orders the rows by it', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const table of CATALOG.filter((t) => t.sorts.length > 0)) {
      const path = await tablePath(sandbox, table.name);
      for (const sort of table.sorts) {
        const answer = await get(sandbox, withPath(path, `sort=${sort}`));
        if (answer.status !== 200) {
          failures.push(`${table.name} sort=${sort}: ${answer.status} ${answer.text.slice(0, 120)}`);
          continue;
        }
        // Where the sort field is a plain attribute, check the order (datetimes as times, text by code unit).
        const field = sort.replace(/^-/, '');
        const values = answer.body.data.map((r) => r.attributes?.[field]);
        if (values.some((v) => v === undefined || v === null || typeof v === 'object')) continue;
        const keys = values.map((v) =>
          typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : v,
        ) as (string | number | boolean)[];
        const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        if (sort.startsWith('-')) sorted.reverse();
        if (JSON.stringify(keys) !== JSON.stringify(sorted))
          failures.push(`${table.name} sort=${sort}: rows out of order`);
        else checked += 1;
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  test('accepts a well-typed value for each allowed filter field and operator', async () => {
    const failures: string[] = [];
    for (const table of CATALOG) {
      const path = await tablePath(sandbox, table.name);
      const required =
        table.name === 'campaigns'
          ? "equals(messages.channel,'email'),"
          : table.name === 'coupon_codes'
            ? "equals(coupon.id,'10OFF'),"
            : '';
      const base = path.replace(/\?filter=.*$/, '');
      for (const [field, spec] of Object.entries(table.filters)) {
        for (const op of spec.operators) {
          const condition = op === 'has' ? `has(${field})` : `${op}(${field},${sample(spec.valueType, op)})`;
          const answer = await get(sandbox, withPath(base, `filter=${q(required + condition)}`));
          if (answer.status !== 200)
            failures.push(`${table.name} ${condition}: ${answer.status} ${answer.text.slice(0, 160)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
