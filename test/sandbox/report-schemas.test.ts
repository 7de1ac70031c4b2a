import { readFileSync } from 'node:fs';
import Ajv2019, { type ValidateFunction } from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { REPORT_ENDPOINTS, type ReportEndpoint } from '../../sandbox/reports/endpoints';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { REPORT_FIXTURE } from './extract-klaviyo-schemas';
import { jsonSchemaOf } from './openapi-json-schema';
import { metricId, postReport, reportBody } from './report-helpers';

/**
 * Acceptance: each Reporting API endpoint is checked against Klaviyo's own OpenAPI description
 * (fixtures/klaviyo-report-schemas.json): bodies its request schema accepts get a 200 whose answer its response
 * schema accepts; bodies its request schema rejects get a 400 in Klaviyo's error shape; and the rules its
 * descriptions state in words (at most 100 filter values, a year per time frame, 7 days hourly, 60 days daily, the
 * required group-bys) are 400s too.
 */

interface Fixture {
  requests: Record<string, string>;
  responses: Record<string, string>;
  errorResponse: { content: Record<string, { schema: unknown }> };
  components: { schemas: Record<string, unknown> };
}

const fixture = JSON.parse(readFileSync(REPORT_FIXTURE, 'utf8')) as Fixture;
const ajv = new Ajv2019({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'klaviyo', components: { schemas: jsonSchemaOf(fixture.components.schemas) } });
const errorValidator = ajv.compile(
  jsonSchemaOf(fixture.errorResponse.content['application/vnd.api+json'].schema) as object,
);

function validator(kind: 'requests' | 'responses', endpoint: ReportEndpoint): ValidateFunction {
  const ref = fixture[kind][`POST ${endpoint.path}`];
  const validate = ref && ajv.getSchema(`klaviyo${ref}`);
  if (!validate) throw new Error(`The fixture has no ${kind} schema for POST ${endpoint.path}: regenerate it`);
  return validate;
}

/** An interval and a time frame it allows. */
const SERIES_TIMEFRAMES = [
  ['hourly', { key: 'last_7_days' }],
  ['daily', { key: 'last_30_days' }],
  ['weekly', { key: 'last_365_days' }],
  ['monthly', { start: '2025-01-05T00:00:00Z', end: '2025-12-31T00:00:00Z' }],
] as const;

/** Bodies Klaviyo's request schema accepts: every statistic, named and custom time frames, every group-by, a filter. */
function validBodies(endpoint: ReportEndpoint, conversionMetric: string, ids: string[]): unknown[] {
  const base: Record<string, unknown> = { statistics: [...endpoint.statistics], timeframe: { key: 'last_365_days' } };
  if (endpoint.conversionMetric) base.conversion_metric_id = conversionMetric;
  const variants: Record<string, unknown>[] =
    endpoint.shape === 'series'
      ? SERIES_TIMEFRAMES.map(([interval, timeframe]) => ({ ...base, interval, timeframe }))
      : [base, { ...base, timeframe: { start: '2025-03-01T00:00:00+00:00', end: '2026-01-01T00:00:00Z' } }];
  const first = variants[0];
  if (endpoint.groupBy.length > 0) variants.push({ ...first, group_by: [...endpoint.groupBy], filter: null });
  const idAttribute = Object.keys(endpoint.filters).find((name) => name.endsWith('_id'))!;
  const anyOperator = endpoint.filters[idAttribute].operators.find((op) => op !== 'equals')!;
  variants.push({
    ...first,
    filter: `${anyOperator}(${idAttribute},[${ids
      .slice(0, 100)
      .map((id) => `"${id}"`)
      .join(',')}])`,
  });
  if (endpoint.channels)
    variants.push({ ...first, filter: `and(equals(${idAttribute},"${ids[0]}"),contains-any(send_channel,["email"]))` });
  return variants.map((attributes) => reportBody(endpoint.type, attributes));
}

/** Bodies Klaviyo's request schema rejects, each by one fault. */
function invalidBodies(endpoint: ReportEndpoint, valid: Record<string, unknown>): [string, unknown][] {
  const attrs = (valid as { data: { attributes: Record<string, unknown> } }).data.attributes;
  const without = (name: string) => Object.fromEntries(Object.entries(attrs).filter(([key]) => key !== name));
  const body = (attributes: Record<string, unknown>) => reportBody(endpoint.type, attributes);
  const cases: [string, unknown][] = [
    ['no data', {}],
    ['data is a list', { data: [] }],
    ['another type', reportBody('campaign-recipient-estimation', attrs)],
    ['no statistics', body(without('statistics'))],
    ['statistics is a string', body({ ...attrs, statistics: endpoint.statistics[0] })],
    ['an unknown statistic', body({ ...attrs, statistics: ['not_a_statistic'] })],
    ['no timeframe', body(without('timeframe'))],
    ['an unknown timeframe key', body({ ...attrs, timeframe: { key: 'last_2_days' } })],
    ['a custom timeframe without end', body({ ...attrs, timeframe: { start: '2025-06-01T00:00:00Z' } })],
    ['a custom timeframe not a date-time', body({ ...attrs, timeframe: { start: 'June', end: 'July' } })],
    [
      'a custom timeframe without an offset',
      body({ ...attrs, timeframe: { start: '2025-06-01T00:00:00', end: '2025-06-02T00:00:00' } }),
    ],
    ['timeframe is a string', body({ ...attrs, timeframe: 'last_30_days' })],
    ['filter is a number', body({ ...attrs, filter: 42 })],
  ];
  if (endpoint.conversionMetric) {
    cases.push(['no conversion_metric_id', body(without('conversion_metric_id'))]);
    cases.push(['conversion_metric_id is a number', body({ ...attrs, conversion_metric_id: 42 })]);
  }
  if (endpoint.groupBy.length > 0) cases.push(['an unknown group_by', body({ ...attrs, group_by: ['planet'] })]);
  if (endpoint.shape === 'series') {
    cases.push(['no interval', body(without('interval'))]);
    cases.push(['an unknown interval', body({ ...attrs, interval: 'yearly' })]);
  }
  return cases;
}

/** Bodies the schema lets through but Klaviyo's descriptions forbid. */
function ruleBreakingBodies(endpoint: ReportEndpoint, valid: Record<string, unknown>): [string, unknown][] {
  const attrs = (valid as { data: { attributes: Record<string, unknown> } }).data.attributes;
  const body = (attributes: Record<string, unknown>) => reportBody(endpoint.type, attributes);
  const idAttribute = Object.keys(endpoint.filters).find((name) => name.endsWith('_id'))!;
  const anyOperator = endpoint.filters[idAttribute].operators.find((op) => op !== 'equals')!;
  const ids = Array.from({ length: 101 }, (_, i) => `"id${i}"`).join(',');
  const cases: [string, unknown][] = [
    ['101 filter values', body({ ...attrs, filter: `${anyOperator}(${idAttribute},[${ids}])` })],
    ['a filter on an unknown attribute', body({ ...attrs, filter: 'equals(planet,"mars")' })],
    ['OR in a filter', body({ ...attrs, filter: `or(equals(${idAttribute},"a"),equals(${idAttribute},"b"))` })],
    [
      'two filters on one attribute',
      body({ ...attrs, filter: `and(equals(${idAttribute},"a"),equals(${idAttribute},"b"))` }),
    ],
    [
      'a timeframe over a year',
      body({ ...attrs, timeframe: { start: '2024-06-01T00:00:00Z', end: '2025-06-02T00:00:00Z' } }),
    ],
    [
      'a timeframe ending before it starts',
      body({ ...attrs, timeframe: { start: '2025-06-02T00:00:00Z', end: '2025-06-01T00:00:00Z' } }),
    ],
    ['no statistics at all', body({ ...attrs, statistics: [] })],
  ];
  if (endpoint.conversionMetric)
    cases.push(['an unknown conversion metric', body({ ...attrs, conversion_metric_id: 'NOSUCH' })]);
  if (endpoint.requiredGroupBy.length > 0)
    cases.push([
      'a group_by without its required attributes',
      body({ ...attrs, group_by: endpoint.groupBy.filter((g) => !endpoint.requiredGroupBy.includes(g)).slice(0, 1) }),
    ]);
  if (endpoint.shape === 'series') {
    cases.push([
      'hourly over 8 days',
      body({ ...attrs, interval: 'hourly', timeframe: { start: '2025-06-01T00:00:00Z', end: '2025-06-09T00:00:00Z' } }),
    ]);
    cases.push([
      'daily over 61 days',
      body({ ...attrs, interval: 'daily', timeframe: { start: '2025-06-01T00:00:00Z', end: '2025-08-01T00:00:00Z' } }),
    ]);
  }
  if (endpoint.subject === 'segment')
    cases.push([
      'a timeframe before June 2023',
      body({ ...attrs, timeframe: { start: '2023-05-01T00:00:00Z', end: '2023-07-01T00:00:00Z' } }),
    ]);
  return cases;
}

describe('Reporting API against Klaviyo schemas', () => {
  let sandbox: Sandbox;
  let placedOrder: string;
  const idsOf: Record<string, string[]> = {};

  beforeAll(async () => {
    sandbox = await startSandbox({
      seed: 2,
      sizes: { profiles: 300, events: 4000, campaigns: 200 },
      rateLimits: { enabled: false, reportsPerDay: 100_000 },
    });
    placedOrder = await metricId(sandbox, 'Placed Order');
    const ids = async (table: string) => [...(sandbox.expectedIds(table) as Iterable<string>)];
    idsOf.campaign = await ids('campaigns');
    idsOf.flow = await ids('flows');
    idsOf.form = await ids('forms');
    idsOf.segment = await ids('segments');
  });
  afterAll(() => sandbox.close());

  test('the fixture has a request and a response schema for each of the seven endpoints', () => {
    expect(Object.keys(fixture.requests).sort()).toEqual(REPORT_ENDPOINTS.map((e) => `POST ${e.path}`).sort());
    expect(Object.keys(fixture.responses).sort()).toEqual(REPORT_ENDPOINTS.map((e) => `POST ${e.path}`).sort());
  });

  test.each(REPORT_ENDPOINTS.map((e) => [e.path, e] as const))(
    '%s: bodies the request schema accepts get answers the response schema accepts',
    async (_path, endpoint) => {
      const requestSchema = validator('requests', endpoint);
      const responseSchema = validator('responses', endpoint);
      const problems: string[] = [];
      let rows = 0;
      for (const body of validBodies(endpoint, placedOrder, idsOf[endpoint.subject])) {
        if (!requestSchema(body))
          problems.push(`test body rejected by the schema: ${JSON.stringify(requestSchema.errors)}`);
        const answer = await postReport(sandbox, endpoint.path, body);
        if (answer.status !== 200) problems.push(`HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
        else if (!responseSchema(answer.body)) problems.push(JSON.stringify(responseSchema.errors).slice(0, 300));
        else rows += answer.body.data.attributes.results.length;
      }
      expect(problems).toEqual([]);
      expect(rows).toBeGreaterThan(0);
    },
  );

  test.each(REPORT_ENDPOINTS.map((e) => [e.path, e] as const))(
    '%s: bodies the request schema rejects, and bodies against its stated rules, are 400 in Klaviyo error shape',
    async (_path, endpoint) => {
      const requestSchema = validator('requests', endpoint);
      const valid = validBodies(endpoint, placedOrder, idsOf[endpoint.subject])[0] as Record<string, unknown>;
      const outcomes: Record<string, unknown> = {};
      for (const [label, body] of invalidBodies(endpoint, valid)) {
        const answer = await postReport(sandbox, endpoint.path, body);
        outcomes[label] = {
          schemaRejects: !requestSchema(body),
          status: answer.status,
          errorShape: errorValidator(answer.body),
        };
      }
      for (const [label, body] of ruleBreakingBodies(endpoint, valid)) {
        const answer = await postReport(sandbox, endpoint.path, body);
        outcomes[label] = { schemaRejects: true, status: answer.status, errorShape: errorValidator(answer.body) };
      }
      const expected = Object.fromEntries(
        Object.keys(outcomes).map((label) => [label, { schemaRejects: true, status: 400, errorShape: true }]),
      );
      expect(outcomes).toEqual(expected);
    },
  );

  test('a body that is not JSON is a 400, and a GET is a 405', async () => {
    const endpoint = REPORT_ENDPOINTS[0];
    const notJson = await postReport(sandbox, endpoint.path, '{"data": ');
    const get = await postReport(sandbox, endpoint.path, undefined, { method: 'GET' });
    expect([notJson.status, errorValidator(notJson.body)]).toEqual([400, true]);
    expect([get.status, errorValidator(get.body)]).toEqual([405, true]);
  });
});
