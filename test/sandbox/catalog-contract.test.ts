import { readFileSync } from 'node:fs';
import { incrementalFilter } from '../../activities/incremental-cursor';
import { sliceField, sliceFilters } from '../../activities/slices';
import { CATALOG, type CatalogTable } from '../../klaviyo/catalog';
import { klaviyoFilter, tableQueryString } from '../../klaviyo/query';
import { FIXTURE, LIST_OPERATIONS_FIXTURE } from './extract-klaviyo-schemas';
import type { ListOperation } from './extract-list-contract';
import { parseFilterDescription } from './filter-description';

/**
 * The outside contract of the client's catalog (issue 14): every table of klaviyo/catalog.ts is checked against
 * Klaviyo's own OpenAPI description (fixtures/klaviyo-list-operations.json and klaviyo-response-schemas.json), not
 * against the sandbox, which is built on the catalog and would only confirm it. For each table: the path is a GET
 * whose answer is a list; every filter the client sends (change cursor, slice bounds, required and archived-row
 * filters, as the client's own code words them) and every filter the catalog offers is a field and operator the
 * `filter` parameter's description allows; the page size the client asks for is within `page[size]`'s bounds;
 * its sorts, includes, additional fields and sparse fields are in the operation's enums.
 */

const operations = (
  JSON.parse(readFileSync(LIST_OPERATIONS_FIXTURE, 'utf8')) as { operations: Record<string, ListOperation> }
).operations;
const schemas = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
  responses: Record<string, string>;
  components: { schemas: Record<string, { properties?: Record<string, { type?: string }> }> };
};

function operationOf(table: CatalogTable): ListOperation {
  const operation = operations[`GET ${table.path}`];
  if (!operation) throw new Error(`Klaviyo's description has no GET ${table.path} (table ${table.name})`);
  return operation;
}

/** `op(field,…)` terms of a filter expression, `and(…)` flattened. */
function filterTerms(expression: string): { operator: string; field: string }[] {
  const and = /^and\((.*)\)$/.exec(expression);
  const parts = and ? splitTopLevel(and[1]) : [expression];
  return parts.map((part) => {
    const term = /^([a-z-]+)\(([^,()]+),/.exec(part);
    if (!term) throw new Error(`Unreadable filter term "${part}"`);
    return { operator: term[1], field: term[2] };
  });
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(' || text[i] === '[') depth += 1;
    else if (text[i] === ')' || text[i] === ']') depth -= 1;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Every query the client makes of a table, as query strings its own code builds. */
function clientQueries(table: CatalogTable): URLSearchParams[] {
  const parentId = table.requiredFilter?.kind === 'channel' ? table.requiredFilter.values[0] : 'PARENT';
  const needsParent = table.parent !== null || table.requiredFilter !== null;
  const base = { table, ...(needsParent ? { parentId } : {}) };
  const filters: string[][] = [[]];
  if (table.incremental) filters.push([incrementalFilter(table, '2025-01-01T00:00:00Z')]);
  if (table.hiddenUnlessFiltered)
    filters.push([klaviyoFilter.equals(table.hiddenUnlessFiltered.field, table.hiddenUnlessFiltered.value)]);
  const slice = sliceField(table);
  const queries = filters.map((filter) => tableQueryString({ ...base, filter }));
  if (slice) {
    const range = { start: 1_700_000_000, end: 1_710_000_000 };
    for (const sort of [slice, `-${slice}`])
      queries.push(tableQueryString({ ...base, filter: sliceFilters(table, range), sort, pageSize: 1 }));
  }
  for (const channel of table.requiredFilter?.kind === 'channel' ? table.requiredFilter.values : [])
    queries.push(tableQueryString({ ...base, parentId: channel }));
  if (!table.idsOnly && table.fields.length > 0)
    queries.push(tableQueryString({ ...base, fields: table.fields.map((f) => f.name) }));
  return queries.map((q) => new URLSearchParams(q));
}

describe('the catalog against Klaviyo’s OpenAPI description', () => {
  test('the fixture describes every catalog path, and each answers a list', () => {
    const missing = CATALOG.filter((t) => !operations[`GET ${t.path}`]).map((t) => t.path);
    expect(missing).toEqual([]);
    const notLists = CATALOG.filter((t) => {
      const ref = schemas.responses[`GET ${t.path}`];
      const schema = schemas.components.schemas[ref?.replace('#/components/schemas/', '') ?? ''];
      return schema?.properties?.data?.type !== 'array';
    }).map((t) => t.path);
    expect(notLists).toEqual([]);
  });

  test.each(CATALOG.map((t) => [t.name, t] as const))('%s: every filter the client sends is allowed', (_, table) => {
    const operation = operationOf(table);
    const sent = clientQueries(table).flatMap((q) => (q.has('filter') ? filterTerms(q.get('filter')!) : []));
    if (operation.filter === null) {
      expect(sent).toEqual([]);
      expect(table.filters).toEqual({});
      return;
    }
    const allowed = parseFilterDescription(operation.filter);
    const refused = sent.filter((t) => !allowed.get(t.field)?.includes(t.operator));
    expect(refused).toEqual([]);
    const offered = Object.entries(table.filters).flatMap(([field, { operators }]) =>
      operators.filter((op) => !allowed.get(field)?.includes(op)).map((op) => `${op}(${field})`),
    );
    expect(offered).toEqual([]);
    if (operation.filterRequired) expect(table.requiredFilter).not.toBeNull();
  });

  test.each(CATALOG.map((t) => [t.name, t] as const))('%s: page sizes are within page[size]', (_, table) => {
    const operation = operationOf(table);
    const sizes = clientQueries(table).flatMap((q) => (q.has('page[size]') ? [Number(q.get('page[size]'))] : []));
    if (!operation.pageSize) {
      expect(sizes).toEqual([]);
      expect(table.pageSize).toBeNull();
      return;
    }
    expect(table.pageSize).toEqual(operation.pageSize);
    expect(sizes.length).toBeGreaterThan(0);
    for (const size of sizes) {
      expect(size).toBeGreaterThanOrEqual(operation.pageSize.min);
      expect(size).toBeLessThanOrEqual(operation.pageSize.max);
    }
    if (table.paged) expect(operation.pageCursor).toBe(true);
  });

  test.each(CATALOG.map((t) => [t.name, t] as const))('%s: sorts, includes and fields exist', (_, table) => {
    const operation = operationOf(table);
    expect(table.sorts.filter((s) => !(operation.sort ?? []).includes(s))).toEqual([]);
    expect(table.includes.filter((i) => !(operation.include ?? []).includes(i))).toEqual([]);
    const additional = operation.additionalFields[table.resourceType] ?? [];
    expect(table.additionalFields.filter((f) => !additional.includes(f))).toEqual([]);
    for (const query of clientQueries(table)) {
      for (const [name, value] of query) {
        const typed = /^(fields|additional-fields)\[(.+)\]$/.exec(name);
        if (!typed) continue;
        const known = (typed[1] === 'fields' ? operation.fields : operation.additionalFields)[typed[2]];
        expect({ [name]: value.split(',').filter((f) => !(known ?? []).includes(f)) }).toEqual({ [name]: [] });
      }
    }
  });
});

describe('parseFilterDescription', () => {
  const preamble = 'For more information please visit https://example/#filtering<br>Allowed field(s)/operator(s):';

  test('reads each field with its operators', () => {
    const parsed = parseFilterDescription(
      `${preamble}<br>\`id\`: \`any\`, \`equals\`<br>\`created\`: \`greater-than\``,
    );
    expect(Object.fromEntries(parsed)).toEqual({ id: ['any', 'equals'], created: ['greater-than'] });
  });

  test('takes other separators and spacing', () => {
    const parsed = parseFilterDescription(`${preamble}<br/>\n\`a.b\` :  \`equals\` ,\`has\`<BR>`);
    expect(Object.fromEntries(parsed)).toEqual({ 'a.b': ['equals', 'has'] });
  });

  test('throws on a description without the list, or a line it cannot read', () => {
    expect(() => parseFilterDescription('For more information please visit …')).toThrow(/names no allowed fields/);
    expect(() => parseFilterDescription(`${preamble}<br>\`id\`: any, equals`)).toThrow(/Unreadable line/);
    expect(() => parseFilterDescription(preamble)).toThrow(/lists no field/);
  });

  test('reads every filter description in the fixture', () => {
    const described = Object.values(operations).filter((o) => o.filter !== null);
    expect(described.length).toBeGreaterThan(20);
    for (const operation of described) expect(parseFilterDescription(operation.filter!).size).toBeGreaterThan(0);
  });
});
