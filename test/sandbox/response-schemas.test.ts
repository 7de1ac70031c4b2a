import { readFileSync } from 'node:fs';
import Ajv2019, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { CATALOG, type CatalogTable } from '../../klaviyo/catalog';
import { Dataset } from '../../sandbox/data/dataset';
import { OBJECT_ROUTES, RECIPIENT_ESTIMATION_TYPE, type ObjectRoute } from '../../sandbox/http/object-routes';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { FIXTURE, servedPaths } from './extract-klaviyo-schemas';
import { get, type Answer, type JsonApiResource } from './http-helpers';
import { jsonSchemaOf } from './openapi-json-schema';

/**
 * Acceptance: every answer of every endpoint the sandbox serves validates against Klaviyo's own response schema for
 * that endpoint (fixtures/klaviyo-response-schemas.json, extracted from Klaviyo's public OpenAPI description), for
 * every row the generator makes, with and without includes and additional fields, in both data modes.
 */

interface Fixture {
  revision: string;
  responses: Record<string, string>;
  errorResponse: { content: Record<string, { schema: unknown }> };
  components: { schemas: Record<string, unknown> };
}

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;

const ajv = new Ajv2019({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'klaviyo', components: { schemas: jsonSchemaOf(fixture.components.schemas) } });
const validators = new Map<string, ValidateFunction>();

function validatorOf(operation: string): ValidateFunction {
  let validate = validators.get(operation);
  if (!validate) {
    const ref = fixture.responses[operation];
    if (!ref) throw new Error(`The fixture has no schema for ${operation}: regenerate it (see its "regenerate")`);
    validate = ajv.getSchema(`klaviyo${ref}`);
    if (!validate) throw new Error(`The fixture's ${ref} does not compile`);
    validators.set(operation, validate);
  }
  return validate;
}

const errorValidator = ajv.compile(
  jsonSchemaOf(fixture.errorResponse.content['application/vnd.api+json'].schema) as object,
);

/** Problems of one answer, worded `path: message`, at most a few per answer. */
function problemsOf(validate: ValidateFunction, answer: Answer, label: string): string[] {
  if (answer.status !== 200) return [`${label}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`];
  if (validate(answer.body)) return [];
  return [...new Set((validate.errors ?? []).map((e: ErrorObject) => `${label} ${e.instancePath}: ${wording(e)}`))];
}

function wording(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'enum') return `${error.message} ${JSON.stringify(params.allowedValues)}`;
  return error.message ?? error.keyword;
}

/** Paths for a table: fan-out tables under every parent, campaigns per channel, coupon codes per coupon. */
function pathsOf(sandbox: Sandbox, table: CatalogTable): string[] {
  if (table.name === 'campaigns')
    return ['email', 'sms', 'mobile_push'].map((c) => `${table.path}?filter=equals(messages.channel,'${c}')`);
  if (table.name === 'coupon_codes')
    return [...(sandbox.expectedIds('coupons') as Iterable<string>)].map(
      (c) => `${table.path}?filter=equals(coupon.id,'${c}')`,
    );
  if (!table.parent) return [table.path];
  return parentIds(sandbox, table).map((id) => table.path.replace(/\{[^}]+\}/, encodeURIComponent(id)));
}

/** The ids of a fan-out table's parents (expectedIds of a fan-out parent is `<grandparent>:<id>`). */
function parentIds(sandbox: Sandbox, table: CatalogTable): string[] {
  const parent = CATALOG.find((t) => t.name === table.parent!.table)!;
  const ids = [...(sandbox.expectedIds(parent.name) as Iterable<string>)];
  return parent.parent ? ids.map((id) => id.slice(id.indexOf(':') + 1)) : ids;
}

/** Every include and additional field an endpoint offers, as query parameters. */
function everythingOf(includes: string[], type: string, additional: string[]): string {
  const parts: string[] = [];
  if (includes.length > 0) parts.push(`include=${includes.join(',')}`);
  if (additional.length > 0) parts.push(`additional-fields[${type}]=${additional.join(',')}`);
  return parts.join('&');
}

function withQuery(path: string, query: string): string {
  if (query === '') return path;
  return `${path}${path.includes('?') ? '&' : '?'}${query}`;
}

/** Reads every page of every path of a table, validating each page; returns the rows and the problems. */
async function checkList(
  sandbox: Sandbox,
  table: CatalogTable,
  query: string,
): Promise<{ rows: JsonApiResource[]; problems: string[] }> {
  const validate = validatorOf(`GET ${table.path}`);
  const rows: JsonApiResource[] = [];
  const problems: string[] = [];
  for (const path of pathsOf(sandbox, table)) {
    let url: string | undefined = withQuery(path, query);
    while (url) {
      const answer = await get(sandbox, url);
      problems.push(...problemsOf(validate, answer, url.replace(sandbox.baseUrl, '')));
      if (answer.status !== 200) break;
      rows.push(...answer.body.data);
      url = answer.body.links.next;
    }
  }
  return { rows, problems };
}

/** The ids of every resource of a type (those of a fan-out table come as `<parent id>:<id>`). */
function idsOfType(sandbox: Sandbox, type: string): string[] {
  const table = CATALOG.find((t) => t.name === Dataset.tableOfType(type))!;
  const ids = [...(sandbox.expectedIds(table.name) as Iterable<string>)];
  return table.parent ? ids.map((id) => id.slice(id.indexOf(':') + 1)) : ids;
}

/** Up to `max` ids spread over the list. */
function spread(ids: string[], max: number): string[] {
  if (ids.length <= max) return ids;
  return Array.from({ length: max }, (_, i) => ids[Math.floor((i * ids.length) / max)]);
}

async function checkObjects(sandbox: Sandbox, route: ObjectRoute, ids: string[]): Promise<string[]> {
  const validate = validatorOf(`GET ${route.path}`);
  const everything = everythingOf(route.includes, route.type, route.additionalFields);
  const problems: string[] = [];
  for (const id of ids) {
    const path = route.path.replace('{id}', encodeURIComponent(id));
    for (const url of [path, withQuery(path, everything)]) {
      problems.push(...problemsOf(validate, await get(sandbox, url), url));
    }
  }
  return problems;
}

const SIZES = { profiles: 300, events: 3000, campaigns: 40, lists: 8, segments: 6, reviews: 120, pushTokens: 200 };

describe.each([
  ['generated data', false],
  ['hostile data', true],
])('Klaviyo response schemas, %s', (_mode, hostile) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 11, sizes: SIZES, hostile, rateLimits: { enabled: false } });
  });
  afterAll(() => sandbox.close());

  test('the fixture has a schema for every GET the sandbox serves, and is of the catalog revision', () => {
    expect(Object.keys(fixture.responses).sort()).toEqual(
      servedPaths()
        .map((p) => `GET ${p}`)
        .sort(),
    );
    expect(fixture.revision).toBe('2026-07-15');
  });

  test.each(CATALOG.map((t) => [t.name, t] as const))(
    'every page of %s validates, plain and with every include and additional field',
    async (_name, table) => {
      const plain = await checkList(sandbox, table, '');
      const everything = await checkList(
        sandbox,
        table,
        everythingOf(table.includes, table.resourceType, table.additionalFields),
      );
      expect(plain.rows.length).toBeGreaterThan(0);
      expect([...new Set([...plain.problems, ...everything.problems])].slice(0, 15)).toEqual([]);
    },
  );

  test.each(OBJECT_ROUTES.map((r) => [r.path, r] as const))(
    'GET %s validates for ids across the table, plain and with everything',
    async (_path, route) => {
      const type = route.type === RECIPIENT_ESTIMATION_TYPE ? 'campaign' : route.type;
      const ids = idsOfType(sandbox, type);
      expect(ids.length).toBeGreaterThan(0);
      const problems = await checkObjects(sandbox, route, spread(ids, 60));
      expect([...new Set(problems)].slice(0, 15)).toEqual([]);
    },
  );

  test('error answers validate against Klaviyo error schema: 400, 403, 404, 410', async () => {
    const answers = [
      await get(sandbox, '/api/profiles?page[size]=0'),
      await get(sandbox, '/api/profiles', { key: sandbox.keys.noProfiles }),
      await get(sandbox, '/api/lists/NOSUCH'),
      await get(sandbox, '/api/nothing-here'),
      await get(sandbox, '/api/lists', { revision: '2023-02-22' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([400, 403, 404, 404, 410]);
    for (const answer of answers)
      expect({ body: answer.body, valid: errorValidator(answer.body) }).toEqual({
        body: answer.body,
        valid: true,
      });
  });
});
