import { RATE_TIERS, tierVariantApplies, type CatalogTable } from './catalog';
import { KlaviyoBadRequestError } from './errors';
import type { RateLimits } from './rate-budget';

/**
 * Turns "read this table, these fields, this filter" into the path and query string Klaviyo expects,
 * and tells which rate limits such a request is counted against. Pure: no I/O.
 */

/** What to read from one catalog table. */
export interface TableQuery {
  table: CatalogTable;
  /**
   * For fan-out tables (`table.parent`), the parent's id substituted into the path; for tables with a
   * required filter, the channel (campaigns) or coupon id (coupon codes) to read.
   */
  parentId?: string;
  /**
   * Attributes to download, pushed down as `fields[<type>]=…` (dotted paths such as `location.city`
   * are allowed). Undefined: Klaviyo's default attributes. Fields Klaviyo returns only on request
   * (e.g. `subscriptions`) are also asked for with `additional-fields[<type>]`. Ignored for tables of
   * ids only.
   */
  fields?: readonly string[];
  /**
   * A Klaviyo filter expression (see `klaviyoFilter`), or several, ANDed with the table's required filter in one
   * flat `and(…)`.
   */
  filter?: string | readonly string[];
  /** One of `table.sorts`, e.g. `updated` or `-updated`. */
  sort?: string;
  /** Relationships to include (`included[]` in the answer); each must be in `table.includes`. */
  include?: readonly string[];
  /** `page[size]`; defaults to the table's maximum, the cheapest way to read it. */
  pageSize?: number;
}

/** The path of a table, with its parent id substituted. */
export function tablePath(table: CatalogTable, parentId?: string): string {
  if (!table.parent) return table.path;
  if (!parentId) {
    throw new KlaviyoBadRequestError({
      table: table.name,
      detail: `the table is read once per row of "${table.parent.table}", so a parent id is required`,
    });
  }
  return table.path.replace(`{${table.parent.param}}`, encodeURIComponent(parentId));
}

/** The query string (without `?`) for the first page of a table. */
export function tableQueryString(query: TableQuery): string {
  const { table } = query;
  const params = new URLSearchParams();
  const refuse = (detail: string, parameter?: string) =>
    new KlaviyoBadRequestError({ table: table.name, detail, parameter });

  if (query.fields !== undefined && !table.idsOnly) {
    if (query.fields.length === 0 && table.fields.length > 0) {
      throw refuse('no field is selected; select at least one field, or leave the selection out for the defaults');
    }
    const known = new Set(table.fields.map((f) => f.name));
    // `id` is in every sparse fieldset Klaviyo offers: the smallest one, for reading ids only.
    const unknown = query.fields.filter((f) => f !== 'id' && !known.has(f.split('.')[0]));
    if (unknown.length > 0) throw refuse(`unknown field(s) ${unknown.join(', ')}`, `fields[${table.resourceType}]`);
    if (query.fields.length > 0) params.set(`fields[${table.resourceType}]`, query.fields.join(','));
    const additional = table.additionalFields.filter((name) => query.fields?.some((f) => f.split('.')[0] === name));
    if (additional.length > 0) params.set(`additional-fields[${table.resourceType}]`, additional.join(','));
  }

  const filter = combineFilters(
    requiredFilter(query),
    ...(typeof query.filter === 'string' ? [query.filter] : (query.filter ?? [])),
  );
  if (filter) params.set('filter', filter);

  if (query.sort !== undefined) {
    if (!table.sorts.includes(query.sort)) {
      throw refuse(`cannot sort by "${query.sort}"; possible: ${table.sorts.join(', ') || 'none'}`, 'sort');
    }
    params.set('sort', query.sort);
  }

  if (query.include && query.include.length > 0) {
    const unknown = query.include.filter((name) => !table.includes.includes(name));
    if (unknown.length > 0) {
      throw refuse(`cannot include ${unknown.join(', ')}; possible: ${table.includes.join(', ') || 'none'}`, 'include');
    }
    params.set('include', query.include.join(','));
  }

  if (table.pageSize) {
    const size = query.pageSize ?? table.pageSize.max;
    if (!Number.isInteger(size) || size < table.pageSize.min || size > table.pageSize.max) {
      throw refuse(`page size ${size} is outside ${table.pageSize.min}–${table.pageSize.max}`, 'page[size]');
    }
    params.set('page[size]', String(size));
  } else if (query.pageSize !== undefined) {
    throw refuse('the endpoint takes no page size', 'page[size]');
  }

  return params.toString();
}

function requiredFilter(query: TableQuery): string | undefined {
  const rule = query.table.requiredFilter;
  if (!rule) return undefined;
  const value = query.parentId;
  if (!value) {
    const what = rule.kind === 'channel' ? `a channel (${rule.values.join(', ')})` : `a "${rule.table}" id`;
    throw new KlaviyoBadRequestError({
      table: query.table.name,
      detail: `Klaviyo requires a filter on ${rule.field}; pass ${what} as the parent id`,
    });
  }
  if (rule.kind === 'channel' && !rule.values.includes(value)) {
    throw new KlaviyoBadRequestError({
      table: query.table.name,
      detail: `unknown channel "${value}"; possible: ${rule.values.join(', ')}`,
    });
  }
  return klaviyoFilter.equals(rule.field, value);
}

function combineFilters(...filters: (string | undefined)[]): string | undefined {
  const present = filters.filter((f): f is string => f !== undefined && f.length > 0);
  if (present.length === 0) return undefined;
  return present.length === 1 ? present[0] : klaviyoFilter.and(...present);
}

/** The rate limits a request to `table` with these query parameters is counted against. */
export function tableRateLimits(table: CatalogTable, params: URLSearchParams): RateLimits {
  const base = RATE_TIERS[table.tier];
  let limits: RateLimits = { burst: base.burst, steady: base.steady };
  for (const variant of table.tierVariants) {
    if (!tierVariantApplies(variant, params)) continue;
    // Several variants could apply: the slowest one governs.
    if (variant.steady < limits.steady) limits = { burst: variant.burst, steady: variant.steady };
  }
  return limits;
}

export type FilterValue = string | number | boolean | Date;

/** Klaviyo's filter grammar: strings quoted, datetimes unquoted (UTC `Z`), lists in brackets. */
function filterValue(value: FilterValue | readonly FilterValue[]): string {
  if (Array.isArray(value)) return `[${value.map((v) => filterValue(v)).join(',')}]`;
  if (value instanceof Date) return value.toISOString().replace(/\.000Z$/, 'Z');
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`A filter value must be a finite number, got ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  const text = value as string;
  if (!text.includes("'")) return `'${text}'`;
  if (!text.includes('"')) return `"${text}"`;
  throw new RangeError('A filter string cannot contain both single and double quotes');
}

/** Builders for Klaviyo filter expressions, e.g. `klaviyoFilter.greaterThan('updated', since)`. */
export const klaviyoFilter = {
  equals: (field: string, value: FilterValue) => `equals(${field},${filterValue(value)})`,
  any: (field: string, values: readonly FilterValue[]) => `any(${field},${filterValue(values)})`,
  greaterThan: (field: string, value: FilterValue) => `greater-than(${field},${filterValue(value)})`,
  greaterOrEqual: (field: string, value: FilterValue) => `greater-or-equal(${field},${filterValue(value)})`,
  lessThan: (field: string, value: FilterValue) => `less-than(${field},${filterValue(value)})`,
  lessOrEqual: (field: string, value: FilterValue) => `less-or-equal(${field},${filterValue(value)})`,
  and: (...expressions: string[]) => `and(${expressions.join(',')})`,
} as const;
