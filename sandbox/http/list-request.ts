import { CATALOG, type CatalogTable } from '../../klaviyo/catalog';
import type { Condition } from '../data/row';
import { decodeCursor, type CursorState } from '../query/cursor';
import { fieldKind } from '../query/field-kinds';
import { FilterError, parseFilter } from '../query/filter';
import type { SortSpec } from '../query/page-reader';
import { hash32, saltOf } from '../random';
import { invalid } from './api-error';

/** The query of a list request, validated against the endpoint's catalog entry. */
export interface ListRequest {
  filter: string | null;
  conditions: Condition[];
  sort: SortSpec | null;
  /** Rows per page; null for unpaged endpoints. */
  pageSize: number | null;
  cursor: CursorState | null;
  /** The cursor as sent (unwrapped from a URL, see unwrapCursor). */
  cursorText: string | null;
  /** Fingerprint a cursor must carry to be used with this request. */
  fingerprint: string;
  include: string[];
  /** Sparse fieldsets by resource type. */
  fields: Map<string, string[]>;
  /** `additional-fields[<primary type>]` values. */
  additionalFields: string[];
}

/** Metrics take no page size; Klaviyo serves up to 200 per page. */
export const METRICS_PAGE_SIZE = 200;

/** Resource types the catalog does not describe, and the attributes they have. */
const OTHER_TYPES: Record<string, string[] | null> = {
  conversation: ['channel'],
  attribution: [],
  'object-schema': null,
};

/**
 * Parses `filter`, `sort`, `page[...]`, `include`, `fields[...]` and `additional-fields[...]`. Anything Klaviyo would
 * refuse (unknown parameter, repeated parameter, bad value) becomes a 400 naming the parameter.
 */
export function parseListRequest(table: CatalogTable, params: URLSearchParams, parentId: string | null): ListRequest {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) throw invalid(`The query parameter '${name}' may only be given once.`, name);
    seen.add(name);
    if (!isKnownParameter(name)) throw invalid(`'${name}' is not a valid query parameter for this endpoint.`, name);
  }
  const filter = params.get('filter');
  let conditions: Condition[];
  try {
    conditions = parseFilter(table, filter);
  } catch (err) {
    if (err instanceof FilterError) throw invalid(err.message, 'filter');
    throw err;
  }
  requireFilter(table, conditions);
  // Klaviyo leaves archived campaigns and flows out unless the filter asks for them: equals(archived,true).
  const hidden = table.hiddenUnlessFiltered;
  if (hidden && !conditions.some((c) => c.field === hidden.field)) {
    conditions.push({ field: hidden.field, op: 'equals', value: !hidden.value, kind: 'boolean' });
  }

  const sortRaw = params.get('sort');
  let sort: SortSpec | null = null;
  if (sortRaw !== null) {
    if (!table.sorts.includes(sortRaw)) {
      throw invalid(
        table.sorts.length === 0
          ? 'Sorting is not supported on this endpoint.'
          : `'${sortRaw}' is not a valid sort value. Allowed values: ${table.sorts.join(', ')}.`,
        'sort',
      );
    }
    const field = sortRaw.replace(/^-/, '');
    sort = { field, descending: sortRaw.startsWith('-'), kind: fieldKind(table, field) };
  }

  const pageSize = parsePageSize(table, params.get('page[size]'));
  const fingerprint = hash32(
    saltOf(table.name),
    saltOf(parentId ?? ''),
    saltOf(filter ?? ''),
    saltOf(sortRaw ?? ''),
  ).toString(36);
  const cursorRaw = unwrapCursor(params.get('page[cursor]'));
  let cursor: CursorState | null = null;
  if (cursorRaw !== null) {
    if (!table.paged) throw invalid('This endpoint is not paginated; page[cursor] is not allowed.', 'page[cursor]');
    cursor = decodeCursor(cursorRaw);
    if (!cursor || cursor.query !== fingerprint) throw invalid('Invalid page cursor.', 'page[cursor]');
  }

  const include = parseList(params.get('include'));
  for (const name of include) {
    if (!table.includes.includes(name)) {
      throw invalid(
        table.includes.length === 0
          ? `'${name}' is not a valid include: this endpoint has no includable relationships.`
          : `'${name}' is not a valid include. Allowed values: ${table.includes.join(', ')}.`,
        'include',
      );
    }
  }

  const fields = new Map<string, string[]>();
  const additionalFields: string[] = [];
  for (const [name, value] of params) {
    const sparse = /^fields\[(.+)\]$/.exec(name);
    if (sparse) fields.set(sparse[1], validateFields(table, sparse[1], parseList(value), name));
    const extra = /^additional-fields\[(.+)\]$/.exec(name);
    if (extra) {
      if (extra[1] !== table.resourceType) throw invalid(`'${name}' is not a valid parameter for this endpoint.`, name);
      for (const field of parseList(value)) {
        if (!table.additionalFields.includes(field)) {
          throw invalid(
            `'${field}' is not a valid additional field. Allowed values: ${table.additionalFields.join(', ') || 'none'}.`,
            name,
          );
        }
        additionalFields.push(field);
      }
    }
  }

  return {
    filter,
    conditions,
    sort,
    pageSize,
    cursor,
    cursorText: cursorRaw,
    fingerprint,
    include: [...new Set(include)],
    fields,
    additionalFields,
  };
}

/**
 * The official SDK accepts a whole `links.next` URL as `pageCursor` and extracts the cursor itself, but only from
 * `https://` URLs; against the sandbox's `http://` base URL it sends the URL as the cursor. Unwrap that case.
 */
function unwrapCursor(raw: string | null): string | null {
  if (raw === null || !raw.startsWith('http://')) return raw;
  try {
    return new URL(raw).searchParams.get('page[cursor]') ?? raw;
  } catch {
    return raw;
  }
}

function isKnownParameter(name: string): boolean {
  return (
    ['filter', 'sort', 'include', 'page[cursor]', 'page[size]'].includes(name) ||
    /^fields\[[a-z-]+\]$/.test(name) ||
    /^additional-fields\[[a-z-]+\]$/.test(name)
  );
}

function parseList(value: string | null): string[] {
  if (value === null) return [];
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function parsePageSize(table: CatalogTable, raw: string | null): number | null {
  if (!table.paged) {
    if (raw !== null) throw invalid('This endpoint is not paginated; page[size] is not allowed.', 'page[size]');
    return null;
  }
  if (!table.pageSize) {
    if (raw !== null) throw invalid('This endpoint does not accept page[size].', 'page[size]');
    return METRICS_PAGE_SIZE;
  }
  if (raw === null) return table.pageSize.default;
  const { min, max } = table.pageSize;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw invalid(`Page size must be an integer between ${min} and ${max}.`, 'page[size]');
  }
  return Number(raw);
}

/** Campaigns need one channel; coupon codes need a coupon (or profile) filter. */
function requireFilter(table: CatalogTable, conditions: Condition[]): void {
  const rule = table.requiredFilter;
  if (!rule) return;
  if (rule.kind === 'channel') {
    if (!conditions.some((c) => c.field === rule.field && c.op === 'equals')) {
      throw invalid(
        `A channel filter is required: filter=equals(${rule.field},'<channel>') with one of ${rule.values.join(', ')}.`,
        'filter',
      );
    }
    return;
  }
  if (!conditions.some((c) => c.field === rule.field || c.field === 'profile.id')) {
    throw invalid(
      `A filter on ${rule.field} (or profile.id) is required, e.g. equals(${rule.field},'10OFF').`,
      'filter',
    );
  }
}

/** Types `fields[...]` may name: the endpoint's own and those of its includable relationships. */
function validateFields(table: CatalogTable, type: string, requested: string[], parameter: string): string[] {
  const includable = table.relationships.filter((r) => table.includes.includes(r.name)).map((r) => r.type);
  if (type !== table.resourceType && !includable.includes(type)) {
    throw invalid(`'${parameter}' is not a valid parameter for this endpoint.`, parameter);
  }
  const known = knownFields(table, type);
  if (known === null) return requested;
  for (const field of requested) {
    const [head] = field.split('.');
    const spec = known.get(head);
    const ok = field === 'id' || (spec !== undefined && (head === field || spec === 'jsonb'));
    if (!ok) throw invalid(`'${field}' is not a valid field for the resource '${type}'.`, parameter);
  }
  return requested;
}

/** Field name → column type of a resource type; null when any field is accepted. */
function knownFields(primary: CatalogTable, type: string): Map<string, string> | null {
  const table =
    type === primary.resourceType
      ? primary
      : CATALOG.find((t) => t.resourceType === type && !t.idsOnly && t.fields.length > 0);
  if (table) return new Map(table.fields.map((f) => [f.name, f.type]));
  const other = OTHER_TYPES[type];
  if (other === null) return null;
  return new Map((other ?? []).map((name) => [name, 'text']));
}
