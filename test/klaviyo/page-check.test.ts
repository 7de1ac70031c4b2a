import { CATALOG as catalog, getTable, type CatalogTable } from '../../klaviyo/catalog';
import { apiTypeCheck, tablePageCheck } from '../../klaviyo/page-check';
import { apiTypeSchema, tablePageSchema } from '../../klaviyo/schemas';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';

/**
 * The compiled page check must accept exactly what the zod page schema accepts: the client trusts it
 * alone for a page it accepts, so a page zod would refuse must never pass it.
 */

/** Values of every JSON kind, valid for some apiType and invalid for others. */
const CANDIDATES: unknown[] = [
  undefined,
  null,
  '',
  'text',
  '2026-01-01T00:00:00+00:00',
  '2026-02-30',
  'yesterday',
  '51.5',
  0,
  -7,
  1.5,
  2 ** 53 - 1,
  2 ** 60,
  true,
  false,
  {},
  { nested: { a: 1 } },
  [],
  ['a', 'b'],
  [1, 2.5],
  [true, 'x', 3],
  [{}],
  [null],
  [[]],
  { latitude: '51.5', longitude: -0.12 },
  { latitude: null },
  { latitude: {} },
  { longitude: [1] },
];

const API_TYPES = [...new Set(catalog.flatMap((t) => t.fields.map((f) => f.apiType)))];

describe('apiTypeCheck', () => {
  it.each(API_TYPES)('agrees with the zod schema of %s on values of every kind', (apiType) => {
    for (const fieldName of ['', 'location', 'latitude', 'longitude']) {
      const zodSchema = apiTypeSchema(apiType, fieldName);
      const check = apiTypeCheck(apiType, fieldName);
      for (const value of CANDIDATES) {
        if (value === undefined) continue; // attributes are optional one level up
        expect([apiType, fieldName, value, check(value)]).toEqual([
          apiType,
          fieldName,
          value,
          zodSchema.safeParse(value).success,
        ]);
      }
    }
  });
});

function resource(table: CatalogTable, attributes: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { type: table.resourceType, id: 'r1', attributes, ...extra };
}

function agree(table: CatalogTable, body: unknown): void {
  const expected = tablePageSchema(table).safeParse(body).success;
  expect({ table: table.name, body, accepted: tablePageCheck(table)(body) }).toEqual({
    table: table.name,
    body,
    accepted: expected,
  });
}

describe('tablePageCheck', () => {
  it.each(catalog.map((t) => t.name))('agrees with the zod page schema of %s, one attribute at a time', (name) => {
    const table = getTable(name);
    agree(table, { data: [] });
    agree(table, { data: [resource(table, {})], links: { self: 's', next: null } });
    for (const field of table.fields) {
      for (const value of CANDIDATES) agree(table, { data: [resource(table, { [field.name]: value })] });
    }
    // An attribute the catalog does not know is data Klaviyo added later: any value passes.
    for (const value of CANDIDATES) agree(table, { data: [resource(table, { not_in_the_catalog: value })] });
  });

  const envelopes: [string, (table: CatalogTable) => unknown][] = [
    ['no data', () => ({ links: { self: 's' } })],
    ['data not an array', (t) => ({ data: resource(t, {}) })],
    ['data null', () => ({ data: null })],
    ['a body that is an array', (t) => [resource(t, {})]],
    ['a body that is null', () => null],
    ['a body that is a string', () => 'data'],
    ['a resource of another type', () => ({ data: [{ type: 'nope', id: 'x', attributes: {} }] })],
    ['a resource without an id', (t) => ({ data: [{ type: t.resourceType, attributes: {} }] })],
    ['an empty id', (t) => ({ data: [{ type: t.resourceType, id: '' }] })],
    ['a numeric id', (t) => ({ data: [{ type: t.resourceType, id: 1 }] })],
    ['attributes null', (t) => ({ data: [{ type: t.resourceType, id: 'x', attributes: null }] })],
    ['attributes an array', (t) => ({ data: [{ type: t.resourceType, id: 'x', attributes: [] }] })],
    ['a null resource', () => ({ data: [null] })],
    ['links a string', (t) => ({ data: [resource(t, {})], links: 'next' })],
    ['links.next a number', (t) => ({ data: [resource(t, {})], links: { next: 2 } })],
    ['links.prev null', (t) => ({ data: [resource(t, {})], links: { prev: null, extra: 1 } })],
    ['links.self null', (t) => ({ data: [resource(t, {})], links: { self: null } })],
    ['meta an array', (t) => ({ data: [resource(t, {})], meta: [] })],
    ['meta with hints', (t) => ({ data: [resource(t, {})], meta: { agent_hints: {} }, extra: 1 })],
    ['resource links null', (t) => ({ data: [resource(t, {}, { links: null })] })],
    ['included resources', (t) => ({ data: [resource(t, {})], included: [{ type: 'list', id: 'l', attributes: {} }] })],
    ['included not an array', (t) => ({ data: [resource(t, {})], included: {} })],
    ['an included resource without a type', (t) => ({ data: [resource(t, {})], included: [{ id: 'l' }] })],
    [
      'included attributes a string',
      (t) => ({ data: [resource(t, {})], included: [{ type: 'a', id: 'l', attributes: 's' }] }),
    ],
  ];
  const relationships: [string, unknown][] = [
    ['one identifier', { a: { data: { type: 'list', id: '1' } } }],
    ['a list of identifiers', { a: { data: [{ type: 'segment', id: '2' }] } }],
    ['null data', { a: { data: null } }],
    ['links only', { a: { links: { self: 'x', related: 'y' } } }],
    ['an identifier without an id', { a: { data: { type: 'list' } } }],
    ['an identifier with an empty type', { a: { data: { type: '', id: '1' } } }],
    ['a list holding a bad identifier', { a: { data: [{ type: 'list', id: '1' }, { id: '2' }] } }],
    ['data a string', { a: { data: 'x' } }],
    ['a null relationship', { a: null }],
    ['relationships an array', [{ data: null }]],
    ['relationships null', null],
  ];

  it.each(envelopes)('agrees with zod on %s, for every table', (_case, build) => {
    for (const table of catalog) agree(table, build(table));
  });

  it.each(relationships)('agrees with zod on relationships with %s', (_case, value) => {
    for (const table of catalog) agree(table, { data: [resource(table, {}, { relationships: value })] });
  });
});

describe('pages the sandbox serves', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 3, rateLimits: { enabled: false }, hostile: true });
  });
  afterAll(() => sandbox.close());

  it.each(['profiles', 'events', 'metrics', 'lists', 'catalog_items', 'segments'])(
    'passes the compiled check as they pass zod (%s, hostile values)',
    async (name) => {
      const table = getTable(name);
      const client = new KlaviyoClient({ apiKey: sandbox.keys.full, baseUrl: sandbox.baseUrl });
      try {
        // pages() itself runs the check; re-checking the bodies makes the comparison explicit.
        let pages = 0;
        for await (const page of client.pages({ table })) {
          const body = { data: page.data, included: page.included };
          expect(tablePageCheck(table)(body)).toBe(true);
          expect(tablePageSchema(table).safeParse(body).success).toBe(true);
          if (++pages === 3) break;
        }
        expect(pages).toBeGreaterThan(0);
      } finally {
        client.close();
      }
    },
  );
});
