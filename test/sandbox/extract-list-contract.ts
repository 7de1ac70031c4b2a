/**
 * The parts of Klaviyo's OpenAPI description that state the contract of a list endpoint, as
 * extract-klaviyo-schemas.ts writes them to fixtures/klaviyo-list-operations.json: the query parameters of each GET
 * (the `filter` parameter's description, where Klaviyo states the allowed fields and operators in words; the
 * `page[size]` bounds; the `sort`, `include`, `additional-fields[…]` and `fields[…]` enums), and, for
 * fixtures/klaviyo-recorded-answers.json, an answer assembled from the examples the description gives for each
 * property of an endpoint's 200 response.
 */

export interface Parameter {
  name: string;
  in: string;
  description?: string;
  required?: boolean;
  schema?: {
    type?: string;
    default?: number;
    minimum?: number;
    maximum?: number;
    enum?: string[];
    items?: { enum?: string[] };
  };
}

/** What the fixture states of one GET. */
export interface ListOperation {
  operationId: string;
  /** The `filter` parameter's description, verbatim; null where the operation takes no filter. */
  filter: string | null;
  filterRequired: boolean;
  /** `page[size]` as its schema bounds it; null where the operation takes none. */
  pageSize: { default: number; min: number; max: number } | null;
  pageCursor: boolean;
  sort: string[] | null;
  include: string[] | null;
  /** `additional-fields[<type>]` and `fields[<type>]` enums, by type. */
  additionalFields: Record<string, string[]>;
  fields: Record<string, string[]>;
}

const enumOf = (p: Parameter): string[] => p.schema?.items?.enum ?? p.schema?.enum ?? [];

export function listOperation(operationId: string, parameters: readonly Parameter[]): ListOperation {
  const query = new Map(parameters.filter((p) => p.in === 'query').map((p) => [p.name, p]));
  const size = query.get('page[size]')?.schema;
  const byType = (prefix: string) =>
    Object.fromEntries(
      [...query.values()]
        .filter((p) => p.name.startsWith(`${prefix}[`))
        .map((p) => [p.name.slice(prefix.length + 1, -1), enumOf(p)]),
    );
  return {
    operationId,
    filter: query.get('filter')?.description ?? null,
    filterRequired: query.get('filter')?.required === true,
    pageSize: size ? { default: size.default!, min: size.minimum!, max: size.maximum! } : null,
    pageCursor: query.has('page[cursor]'),
    sort: query.has('sort') ? enumOf(query.get('sort')!) : null,
    include: query.has('include') ? enumOf(query.get('include')!) : null,
    additionalFields: byType('additional-fields'),
    fields: byType('fields'),
  };
}

type Schema = Record<string, unknown>;

/**
 * An answer assembled from a response schema's documented examples: a property is kept when it is required or
 * something under it has an `example`; arrays hold one item; `oneOf`/`anyOf` take their first branch, `allOf`
 * merges. A required scalar without an example gets its enum's first value, else a placeholder of its type (a
 * non-empty string: Klaviyo's ids never are empty). `unchecked` lists the paths (`data[].attributes.properties`)
 * whose shape the example does not fix: a free-form object's example, and the first of several branches (except
 * `included[]`, whose resources a comparison matches by their `type`).
 */
export function exampleOf(node: Schema, resolve: (ref: string) => Schema): { answer: unknown; unchecked: string[] } {
  const unchecked: string[] = [];
  const answer = assemble(node, { resolve, unchecked }, '', 0).value;
  return { answer, unchecked };
}

interface Assembled {
  value: unknown;
  /** Whether an example of the description is in it (not only placeholders and enums). */
  documented: boolean;
}

interface Walk {
  resolve: (ref: string) => Schema;
  unchecked: string[];
}

function assemble(node: Schema, walk: Walk, at: string, depth: number): Assembled {
  const none = { value: undefined, documented: false };
  if (depth > 12) return none;
  if (typeof node.$ref === 'string') return assemble(flatten(node, walk.resolve), walk, at, depth);
  if (Array.isArray(node.allOf)) {
    const merged: Schema = { type: 'object', properties: {}, required: [] };
    for (const part of node.allOf as Schema[]) {
      const flat = flatten(part, walk.resolve);
      Object.assign(merged.properties as Schema, flat.properties ?? {});
      (merged.required as string[]).push(...((flat.required as string[]) ?? []));
    }
    return assemble(merged, walk, at, depth);
  }
  const branches = (node.oneOf ?? node.anyOf) as Schema[] | undefined;
  if (branches) {
    if (branches.length > 1 && at !== 'included[]') walk.unchecked.push(at);
    return assemble(branches[0], walk, at, depth);
  }
  if ('example' in node) {
    if (node.type === 'object' && !node.properties) walk.unchecked.push(at);
    return { value: node.example, documented: true };
  }
  if (node.type === 'array') {
    const item = assemble((node.items ?? {}) as Schema, walk, `${at}[]`, depth + 1);
    return { value: item.value === undefined ? [] : [item.value], documented: item.documented };
  }
  if (node.type === 'object' || node.properties) {
    const required = new Set((node.required as string[]) ?? []);
    const out: Record<string, unknown> = {};
    let documented = false;
    for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Schema>)) {
      const path = at ? `${at}.${name}` : name;
      const mark = walk.unchecked.length;
      const part = assemble(child, walk, path, depth + 1);
      documented ||= part.documented;
      if (part.documented || required.has(name))
        out[name] = part.value === undefined ? placeholder(flatten(child, walk.resolve), name) : part.value;
      else walk.unchecked.splice(mark);
    }
    return { value: out, documented };
  }
  return none;
}

function flatten(node: Schema, resolve: (ref: string) => Schema): Schema {
  return typeof node.$ref === 'string' ? flatten({ ...resolve(node.$ref), ...omit(node, '$ref') }, resolve) : node;
}

/** A value of the schema's type for a required property the description gives no example of. */
function placeholder(node: Schema, name: string): unknown {
  if (Array.isArray(node.enum)) return node.enum[0];
  switch (node.type) {
    case 'string':
      return node.format === 'date-time' ? '2022-01-01T00:00:00+00:00' : `${name}-placeholder`;
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    default:
      return node.nullable ? null : {};
  }
}

function omit(node: Schema, key: string): Schema {
  return Object.fromEntries(Object.entries(node).filter(([k]) => k !== key));
}
