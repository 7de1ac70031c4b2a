import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CATALOG, KLAVIYO_REVISION } from '../../klaviyo/catalog';
import { OBJECT_ROUTES } from '../../sandbox/http/object-routes';
import { REPORT_PATH, stateReportEndpoint } from './report-description';
import { exampleOf, listOperation, type ListOperation, type Parameter } from './extract-list-contract';

/**
 * Writes test/sandbox/fixtures/klaviyo-response-schemas.json: the 200 response schemas of every GET the sandbox
 * serves (the catalog's list endpoints and the single-object GETs) and the error response, with every component
 * they `$ref`, out of Klaviyo's public OpenAPI description. Descriptions and examples are left out; validation
 * does not read them. Beside it, fixtures/klaviyo-report-schemas.json: the request and 200 response schemas of the
 * Reporting API's POSTs the sandbox serves, and the error response; fixtures/klaviyo-list-operations.json: the
 * query parameters of every GET the catalog reads (extract-list-contract.ts); fixtures/klaviyo-recorded-answers.json:
 * answers to a few list endpoints assembled from the examples Klaviyo's description gives for each property.
 *
 *   npx tsx test/sandbox/extract-klaviyo-schemas.ts <path to Klaviyo's openapi/stable.json>
 */

export const FIXTURE = path.join(__dirname, 'fixtures', 'klaviyo-response-schemas.json');
export const REPORT_FIXTURE = path.join(__dirname, 'fixtures', 'klaviyo-report-schemas.json');
/** The sandbox's own description of the Reporting API, in the description's terms (sandbox/reports/endpoints.ts). */
export const REPORT_ENDPOINTS_FILE = path.join(__dirname, '..', '..', 'sandbox', 'reports', 'report-endpoints.json');
export const LIST_OPERATIONS_FIXTURE = path.join(__dirname, 'fixtures', 'klaviyo-list-operations.json');
export const RECORDED_ANSWERS_FIXTURE = path.join(__dirname, 'fixtures', 'klaviyo-recorded-answers.json');
/** The list endpoints whose documented examples make the recorded answers. */
export const RECORDED_PATHS = ['/api/profiles', '/api/events', '/api/lists', '/api/campaigns', '/api/flows'];
const PROVENANCE =
  "Extracted from Klaviyo's public OpenAPI description (github.com/klaviyo/openapi, openapi/stable.json, " +
  `revision ${KLAVIYO_REVISION})`;
const REGENERATE = 'npx tsx test/sandbox/extract-klaviyo-schemas.ts <path to openapi/stable.json of that revision>';
const SCHEMA_PREFIX = '#/components/schemas/';
const DROPPED = new Set(['description', 'example', 'examples', 'title']);

interface Operation {
  operationId: string;
  'x-klaviyo-scopes'?: string[];
  parameters?: Parameter[];
  responses: Record<string, unknown>;
  requestBody?: { content: Record<string, { schema: { $ref: string } }> };
}

interface OpenApi {
  info: { version: string };
  paths: Record<string, { get?: Operation; post?: Operation }>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
}

/** The paths the sandbox answers GETs on, as Klaviyo's description spells them. */
export function servedPaths(): string[] {
  return [...CATALOG.map((t) => t.path), ...OBJECT_ROUTES.map((r) => r.path)];
}

function main(): void {
  const source = process.argv[2];
  if (!source) {
    console.error('usage: npx tsx test/sandbox/extract-klaviyo-schemas.ts <path to openapi/stable.json>');
    process.exit(2);
  }
  const spec = JSON.parse(readFileSync(source, 'utf8')) as OpenApi;
  if (spec.info.version !== KLAVIYO_REVISION) {
    throw new Error(`The description is revision ${spec.info.version}; the catalog serves ${KLAVIYO_REVISION}.`);
  }
  const responses: Record<string, string> = {};
  const pending: unknown[] = [spec.components.responses.ClientError];
  for (const route of servedPaths()) {
    const get = spec.paths[route]?.get;
    if (!get) throw new Error(`Klaviyo's description has no GET ${route}`);
    const schema = okSchema(get);
    responses[`GET ${route}`] = schema.$ref;
    pending.push(schema);
  }
  write(FIXTURE, spec, { responses }, pending, 'the 200 responses of the GETs the sandbox serves');

  const requests: Record<string, string> = {};
  const reportResponses: Record<string, string> = {};
  const reportPending: unknown[] = [spec.components.responses.ClientError];
  for (const route of Object.keys(spec.paths).filter((p) => REPORT_PATH.test(p) && spec.paths[p].post)) {
    const post = spec.paths[route]?.post;
    if (!post?.requestBody) throw new Error(`Klaviyo's description has no POST ${route} with a body`);
    const request = post.requestBody.content['application/vnd.api+json'].schema;
    const response = okSchema(post);
    requests[`POST ${route}`] = request.$ref;
    reportResponses[`POST ${route}`] = response.$ref;
    reportPending.push(request, response);
  }
  write(
    REPORT_FIXTURE,
    spec,
    { requests, responses: reportResponses },
    reportPending,
    'the request bodies and 200 responses of the Reporting API POSTs the sandbox serves',
  );
  writeListContract(spec);
  writeReportEndpoints(spec);
}

/** What the description says of each Reporting API POST, for the sandbox to serve it by. */
function writeReportEndpoints(spec: OpenApi): void {
  const resolve = (node: Record<string, unknown>): Record<string, unknown> =>
    typeof node.$ref === 'string'
      ? resolve(spec.components.schemas[node.$ref.slice(SCHEMA_PREFIX.length)] as Record<string, unknown>)
      : node;
  const endpoints: Record<string, unknown> = {};
  for (const route of Object.keys(spec.paths).filter((p) => REPORT_PATH.test(p) && spec.paths[p].post)) {
    const post = spec.paths[route].post!;
    const body = resolve(post.requestBody!.content['application/vnd.api+json'].schema);
    const resource = resolve((body.properties as Record<string, Record<string, unknown>>).data);
    endpoints[route] = stateReportEndpoint(post, resource, resolve);
  }
  const what =
    'what it says of each Reporting API POST: the enums and required attributes of the request body, the ' +
    "operation's scopes and page_cursor, and the rules its property descriptions state in words " +
    '(test/sandbox/report-description.ts reads them)';
  const file = { $comment: `${PROVENANCE}: ${what}.`, regenerate: REGENERATE, revision: KLAVIYO_REVISION, endpoints };
  // Lists of names on one line each: the file is read by people as much as by the sandbox.
  const text = JSON.stringify(file, null, 1).replace(
    /\[\s*("[^"\]]*"(?:,\s*"[^"\]]*")*)\s*\]/g,
    (_, items: string) => `[${items.replace(/,\s*/g, ', ')}]`,
  );
  writeFileSync(REPORT_ENDPOINTS_FILE, text + '\n');
  console.log(`${REPORT_ENDPOINTS_FILE}: ${Object.keys(endpoints).length} endpoints`);
}

/** The query parameters of every catalog GET, and the recorded answers. A GET the description lacks is left out. */
function writeListContract(spec: OpenApi): void {
  const operations: Record<string, ListOperation> = {};
  for (const table of CATALOG) {
    const get = spec.paths[table.path]?.get;
    if (get) operations[`GET ${table.path}`] = listOperation(get.operationId, get.parameters ?? []);
  }
  const common = { regenerate: REGENERATE, revision: KLAVIYO_REVISION };
  const what = 'the query parameters of the GETs the catalog reads; `filter` is its parameter description, verbatim';
  writeFileSync(
    LIST_OPERATIONS_FIXTURE,
    JSON.stringify({ $comment: `${PROVENANCE}: ${what}.`, ...common, operations }, null, 1) + '\n',
  );
  const resolve = (ref: string) => spec.components.schemas[ref.slice(SCHEMA_PREFIX.length)] as Record<string, unknown>;
  const answers: Record<string, unknown> = {};
  const unchecked: Record<string, string[]> = {};
  for (const route of RECORDED_PATHS) {
    const example = exampleOf(okSchema(spec.paths[route].get!), resolve);
    answers[`GET ${route}`] = example.answer;
    unchecked[`GET ${route}`] = example.unchecked;
  }
  const comment =
    `${PROVENANCE}: answers to ${RECORDED_PATHS.length} list endpoints assembled from the examples the description ` +
    "gives for each property of the endpoint's 200 response (its required properties without one get a placeholder); " +
    '`unchecked`: the paths whose shape the example does not fix (free-form objects, one of several branches).';
  writeFileSync(
    RECORDED_ANSWERS_FIXTURE,
    JSON.stringify({ $comment: comment, ...common, answers, unchecked }, null, 1) + '\n',
  );
  console.log(`${LIST_OPERATIONS_FIXTURE}: ${Object.keys(operations).length} operations`);
}

function okSchema(operation: Operation): { $ref: string } {
  return (operation.responses['200'] as { content: Record<string, { schema: { $ref: string } }> }).content[
    'application/vnd.api+json'
  ].schema;
}

function write(file: string, spec: OpenApi, routes: Record<string, unknown>, pending: unknown[], what: string): void {
  const names = new Set<string>();
  while (pending.length > 0) {
    const node = pending.pop();
    walk(node, (ref) => {
      if (!ref.startsWith(SCHEMA_PREFIX)) throw new Error(`Unexpected $ref ${ref}`);
      const name = ref.slice(SCHEMA_PREFIX.length);
      if (names.has(name)) return;
      names.add(name);
      pending.push(spec.components.schemas[name]);
    });
  }
  const schemas: Record<string, unknown> = {};
  for (const name of [...names].sort()) schemas[name] = strip(spec.components.schemas[name]);
  const fixture = {
    $comment:
      `${PROVENANCE}: ${what}, the error response, and ` +
      'every component they $ref, without descriptions and examples.',
    regenerate: REGENERATE,
    revision: KLAVIYO_REVISION,
    ...routes,
    errorResponse: strip(spec.components.responses.ClientError),
    components: { schemas },
  };
  writeFileSync(file, JSON.stringify(fixture, null, 1) + '\n');
  console.log(`${file}: ${Object.keys(routes.responses as object).length} responses, ${names.size} components`);
}

function walk(node: unknown, onRef: (ref: string) => void): void {
  if (Array.isArray(node)) for (const item of node) walk(item, onRef);
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') onRef(value);
      else walk(value, onRef);
    }
  }
}

/** The node without documentation keywords; a property that happens to be named `description` is kept. */
function strip(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((item) => strip(item));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!inProperties && DROPPED.has(key)) continue;
    out[key] = strip(value, !inProperties && key === 'properties');
  }
  return out;
}

if (require.main === module) main();
