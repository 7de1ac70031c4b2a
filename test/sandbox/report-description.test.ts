import { readFileSync } from 'node:fs';
import { REPORT_ENDPOINTS } from '../../sandbox/reports/endpoints';
import { REPORT_FIXTURE } from './extract-klaviyo-schemas';
import { readEarliestDate, readFilterDescription, readGroupByDescription } from './report-description';

/**
 * The sandbox's description of the Reporting API (sandbox/reports/report-endpoints.json, read by endpoints.ts) is
 * Klaviyo's: it agrees with the request schemas of fixtures/klaviyo-report-schemas.json, and the readers of the rules
 * Klaviyo states in words read them as meant.
 */

type Node = Record<string, unknown>;
const fixture = JSON.parse(readFileSync(REPORT_FIXTURE, 'utf8')) as {
  requests: Record<string, string>;
  components: { schemas: Record<string, Node> };
};
const resolve = (node: Node): Node =>
  typeof node.$ref === 'string' ? resolve(fixture.components.schemas[node.$ref.split('/').pop()!]) : node;

describe("the sandbox's report endpoints against Klaviyo's request schemas", () => {
  test('the sandbox serves exactly the POSTs the fixture describes', () => {
    expect(REPORT_ENDPOINTS.map((e) => `POST ${e.path}`).sort()).toEqual(Object.keys(fixture.requests).sort());
  });

  test.each(REPORT_ENDPOINTS.map((e) => [e.path, e] as const))('%s', (path, endpoint) => {
    const body = resolve({ $ref: fixture.requests[`POST ${path}`] });
    const resource = resolve((body.properties as Record<string, Node>).data);
    const properties = resource.properties as Record<string, Node>;
    const attributes = resolve(properties.attributes);
    const fields = attributes.properties as Record<string, Node>;
    const items = (name: string) => ((fields[name]?.items as Node | undefined)?.enum as string[] | undefined) ?? [];
    expect(resolve(properties.type).enum).toEqual([endpoint.type]);
    expect([...endpoint.statistics].sort()).toEqual([...items('statistics')].sort());
    expect([...endpoint.groupBy].sort()).toEqual([...items('group_by')].sort());
    for (const name of [...endpoint.defaultGroupBy, ...endpoint.requiredGroupBy])
      if (endpoint.groupBy.length > 0) expect(endpoint.groupBy).toContain(name);
    expect(endpoint.conversionMetric).toBe((attributes.required as string[]).includes('conversion_metric_id'));
    expect(endpoint.shape === 'series').toBe('interval' in fields);
  });
});

describe('readers of the rules Klaviyo states in words', () => {
  test('group_by: the default grouping, required group-bys and prerequisites', () => {
    expect(
      readGroupByDescription(
        'List of attributes to group the data by.\nAllowed group-bys are a, b, c.\n' +
          'If not passed in, the data will be grouped by a, b.\nThe following group by attributes are required: b, a',
      ),
    ).toEqual({ defaultGroupBy: ['a', 'b'], requiredGroupBy: ['b', 'a'] });
    expect(
      readGroupByDescription(
        'If a group by has prerequisites, they must be passed in together. The prerequisites for y is x',
      ),
    ).toEqual({ defaultGroupBy: null, requiredGroupBy: ['x'] });
  });

  test('filter: scalar and list attributes, allowed filters and operators, send channels', () => {
    expect(
      readFilterDescription(
        'API filter string.\nScalar attributes (a, b): Supported operators: equals, contains-any.\n' +
          'List attributes (t): Supported operators: contains-any, contains-all.\n' +
          'When filtering on send_channel, allowed values are email, sms.',
      ),
    ).toEqual({
      filters: {
        a: { operators: ['equals', 'contains-any'], list: false },
        b: { operators: ['equals', 'contains-any'], list: false },
        t: { operators: ['contains-any', 'contains-all'], list: true },
      },
      channels: ['email', 'sms'],
    });
    expect(readFilterDescription('Allowed filters are s.\nAllowed operators are equals, any.')).toEqual({
      filters: { s: { operators: ['equals', 'any'], list: false } },
      channels: null,
    });
    expect(() => readFilterDescription('API filter string used to filter the query.')).toThrow(/No filterable/);
  });

  test('timeframe: the first day with data', () => {
    expect(readEarliestDate('(Max length: 1 year). Data is unavailable before June 1st, 2023. Please')).toBe(
      '2023-06-01',
    );
    expect(readEarliestDate('The time frame to pull data from (Max length: 1 year).')).toBeNull();
    expect(() => readEarliestDate('Data is unavailable before Juin 1st, 2023')).toThrow(/Unknown month/);
  });
});
