/**
 * What Klaviyo's OpenAPI description says of a Reporting API POST, as sandbox/reports/report-endpoints.json holds it:
 * the enums of the request body (statistics, group_by, interval), its required attributes, the operation's scopes and
 * whether it takes `page_cursor`, and the rules its property descriptions state only in words (the default and the
 * required group-bys, the filterable attributes and their operators, the send channels, the earliest date), read
 * here. A sentence of a kind this does not know is skipped; a sentence it knows but cannot read throws.
 */

export interface ReportFilterAttribute {
  operators: string[];
  /** List attributes (tags) are matched against a grouping's set of values. */
  list: boolean;
}

export interface StatedReportEndpoint {
  type: string;
  scopes: string[];
  statistics: string[];
  /** Allowed `group_by` values; empty when the body takes no `group_by`. */
  groupBy: string[];
  /** The grouping of an answer without `group_by`; null where the description does not say. */
  defaultGroupBy: string[] | null;
  /** Group-bys that must be present when `group_by` is given (required ones and prerequisites). */
  requiredGroupBy: string[];
  filters: Record<string, ReportFilterAttribute>;
  channels: string[] | null;
  conversionMetric: boolean;
  pageCursor: boolean;
  /** The first day with data (`YYYY-MM-DD`), where the time frame's description names one. */
  earliestDate: string | null;
}

const names = (text: string): string[] =>
  text
    .split(',')
    .map((n) => n.trim().replace(/\.$/, ''))
    .filter(Boolean);

/** Default and required group-bys, out of the `group_by` property's description. */
export function readGroupByDescription(text: string): { defaultGroupBy: string[] | null; requiredGroupBy: string[] } {
  let defaultGroupBy: string[] | null = null;
  const required: string[] = [];
  for (const sentence of text.split('\n').map((s) => s.trim())) {
    const byDefault = /^If not passed in, the data will be grouped by (.+)$/.exec(sentence);
    if (byDefault) defaultGroupBy = names(byDefault[1]);
    const needed = /^The following group by attributes are required: (.+)$/.exec(sentence);
    if (needed) required.push(...names(needed[1]));
    const prerequisites = [...sentence.matchAll(/The prerequisites for (\w+) (?:is|are) ([\w, ]+?)(?:\.|;|$)/g)];
    for (const [, , before] of prerequisites) required.push(...names(before));
  }
  return { defaultGroupBy, requiredGroupBy: [...new Set(required)] };
}

/** Filterable attributes with their operators, and the send channels, out of the `filter` property's description. */
export function readFilterDescription(text: string): {
  filters: Record<string, ReportFilterAttribute>;
  channels: string[] | null;
} {
  const filters: Record<string, ReportFilterAttribute> = {};
  let channels: string[] | null = null;
  let allowed: string[] = [];
  for (const sentence of text.split('\n').map((s) => s.trim())) {
    const kind = /^(Scalar|List) attributes \(([^)]+)\): Supported operators: (.+)$/.exec(sentence);
    if (kind)
      for (const name of names(kind[2])) filters[name] = { operators: names(kind[3]), list: kind[1] === 'List' };
    const listed = /^Allowed filters are (.+)$/.exec(sentence);
    if (listed) allowed = names(listed[1]);
    const operators = /^Allowed operators are (.+)$/.exec(sentence);
    if (operators) {
      if (allowed.length === 0) throw new Error(`Operators before the filters they apply to: "${text}"`);
      for (const name of allowed) filters[name] = { operators: names(operators[1]), list: false };
    }
    const values = /^When filtering on send_channel, allowed values are (.+)$/.exec(sentence);
    if (values) channels = names(values[1]);
  }
  if (Object.keys(filters).length === 0) throw new Error(`No filterable attribute in "${text}"`);
  return { filters, channels };
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** The first day with data, out of the `timeframe` property's description (`Data is unavailable before …`). */
export function readEarliestDate(text: string): string | null {
  const stated = /Data is unavailable before (\w+) (\d+)(?:st|nd|rd|th)?, (\d{4})/.exec(text);
  if (!stated) return null;
  const month = MONTHS.indexOf(stated[1]);
  if (month < 0) throw new Error(`Unknown month in "${stated[0]}"`);
  return new Date(Date.UTC(Number(stated[3]), month, Number(stated[2]))).toISOString().slice(0, 10);
}

type Node = Record<string, unknown>;

/** The Reporting API POSTs of a description: `/api/<subject>-<values|series>-reports`. */
export const REPORT_PATH = /^\/api\/[a-z]+-(?:values|series)-reports$/;

/**
 * Every Reporting API POST of the description, stated as above. `resolve` follows a `$ref`; `operation` is the
 * path's POST with its request body's schema already resolved to the body's JSON:API resource object.
 */
export function stateReportEndpoint(
  operation: { parameters?: { name: string }[]; 'x-klaviyo-scopes'?: string[] },
  resource: Node,
  resolve: (node: Node) => Node,
): StatedReportEndpoint {
  const properties = resource.properties as Record<string, Node>;
  const attributes = resolve(properties.attributes);
  const fields = attributes.properties as Record<string, Node>;
  const enumOf = (node: Node | undefined): string[] | null => {
    if (!node) return null;
    const flat = resolve(node);
    return ((flat.items ? resolve(flat.items as Node) : flat).enum as string[] | undefined) ?? null;
  };
  const description = (name: string) => (fields[name]?.description as string | undefined) ?? '';
  const groupBy = enumOf(fields.group_by) ?? [];
  const words = groupBy.length > 0 ? readGroupByDescription(description('group_by')) : null;
  const required = (attributes.required as string[] | undefined) ?? [];
  return {
    type: enumOf(properties.type)![0],
    scopes: operation['x-klaviyo-scopes'] ?? [],
    statistics: enumOf(fields.statistics)!,
    groupBy,
    defaultGroupBy: words?.defaultGroupBy ?? null,
    requiredGroupBy: words?.requiredGroupBy ?? [],
    ...readFilterDescription(description('filter')),
    conversionMetric: required.includes('conversion_metric_id'),
    pageCursor: (operation.parameters ?? []).some((p) => p.name === 'page_cursor'),
    earliestDate: readEarliestDate(description('timeframe')),
  };
}
