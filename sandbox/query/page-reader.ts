import type { Condition, FilterOperator, KeyFn, Resource, RowSource, Scalar, ValueKind } from '../data/row';
import { comparable, fieldValue, matches } from './field-values';
import { boundByKey, firstNonNull, identityOrdering, lowerBoundPair, sortedOrdering, type Ordering } from './ordering';

export interface SortSpec {
  field: string;
  descending: boolean;
  kind: ValueKind;
}

/** The last row a page served, in keyset form. */
export interface RowPosition {
  key: Scalar;
  index: number;
}

export interface PageQuery {
  source: RowSource;
  conditions: Condition[];
  sort: SortSpec | null;
  /** Rows per page; null serves everything (unpaged endpoints). */
  pageSize: number | null;
  /** Continue after this row (from a cursor). */
  after: RowPosition | null;
  /** Returns the cached sorted order of this source for a field, building it on first use. */
  cachedOrdering(field: string, build: () => Ordering): Ordering;
}

export interface PageResult {
  rows: Resource[];
  /** Where the next page continues, or null on the last page. */
  next: RowPosition | null;
}

/**
 * How each range operator narrows a sorted ordering: the ends it moves, each to `boundByKey`'s position with its
 * `strict` flag (true: the first key above the value; false: the first key at or above it).
 */
const RANGE_BOUNDS: Partial<Record<FilterOperator, { lo?: boolean; hi?: boolean }>> = {
  equals: { lo: false, hi: true },
  'greater-than': { lo: true },
  'greater-or-equal': { lo: false },
  'less-than': { hi: false },
  'less-or-equal': { hi: true },
};

/**
 * Serves one page: picks the ordering, narrows it by binary search with the conditions on its key, then scans
 * from the cursor testing the other conditions (cheap predicates where the source has them). A complete read
 * costs O(rows) in total, never O(rows) per page.
 */
export function readPage(query: PageQuery): PageResult {
  const { source } = query;
  // One-row cache: a row built to test a condition is the row then served.
  let cachedIndex = -1;
  let cachedRow: Resource | undefined;
  const rowOf = (index: number): Resource => {
    if (index !== cachedIndex || !cachedRow) {
      cachedRow = source.row(index);
      cachedIndex = index;
    }
    return cachedRow;
  };
  const keyFor = (field: string, kind: ValueKind): KeyFn =>
    source.key?.(field) ??
    ((i) => {
      const value = fieldValue(rowOf(i), field);
      return comparable(Array.isArray(value) ? (value[0] ?? null) : value, kind);
    });

  const sort = query.sort;
  let ordering: Ordering;
  if (!sort) ordering = identityOrdering(source.count, null);
  else if (source.monotone?.has(sort.field)) ordering = identityOrdering(source.count, keyFor(sort.field, sort.kind));
  else ordering = query.cachedOrdering(sort.field, () => sortedOrdering(source.count, keyFor(sort.field, sort.kind)));

  let lo = 0;
  let hi = ordering.size;
  const residual: Condition[] = [];
  for (const condition of query.conditions) {
    const narrowing = narrowingOrdering(condition, ordering, sort, source, keyFor);
    if (!narrowing) {
      residual.push(condition);
      continue;
    }
    const value = condition.value as Scalar;
    const bounds = RANGE_BOUNDS[condition.op] ?? {};
    lo = Math.max(lo, firstNonNull(narrowing));
    if (bounds.lo !== undefined) lo = Math.max(lo, boundByKey(narrowing, value, bounds.lo));
    if (bounds.hi !== undefined) hi = Math.min(hi, boundByKey(narrowing, value, bounds.hi));
  }

  const tests = residual.map((condition) => {
    const cheap = source.predicate?.(condition);
    if (cheap) return cheap;
    const key = source.key?.(condition.field);
    if (key) return (i: number) => matches(condition, key(i));
    return (i: number) => matches(condition, fieldValue(rowOf(i), condition.field));
  });
  const hidden = source.hiddenIds;
  if (hidden) {
    // Deleted rows: tested by id, with the cheap id key where the source has one.
    const idKey = source.key?.('id');
    tests.push(idKey ? (i) => !hidden.has(idKey(i) as string) : (i) => !hidden.has(rowOf(i).id));
  }
  const accept = (i: number) => tests.every((test) => test(i));

  const descending = sort?.descending ?? false;
  const after = query.after;
  let position: number;
  if (!descending) position = after ? Math.max(lo, lowerBoundPair(ordering, after.key, after.index + 1)) : lo;
  else position = after ? Math.min(hi - 1, lowerBoundPair(ordering, after.key, after.index) - 1) : hi - 1;
  const step = descending ? -1 : 1;
  const inRange = (p: number) => p >= lo && p < hi;

  const rows: Resource[] = [];
  let last = -1;
  const limit = query.pageSize ?? Infinity;
  for (; inRange(position); position += step) {
    const index = ordering.at(position);
    if (!accept(index)) continue;
    if (rows.length === limit) {
      // One more match exists: there is a next page, continuing after the last row served.
      return { rows, next: { key: ordering.key(last), index: last } };
    }
    rows.push(rowOf(index));
    last = index;
  }
  return { rows, next: null };
}

/** The ordering a range condition can be answered on by binary search, if any. */
function narrowingOrdering(
  condition: Condition,
  ordering: Ordering,
  sort: SortSpec | null,
  source: RowSource,
  keyFor: (field: string, kind: ValueKind) => KeyFn,
): Ordering | null {
  if (!RANGE_BOUNDS[condition.op] || condition.value === null || Array.isArray(condition.value)) return null;
  if (condition.kind !== 'datetime' && condition.kind !== 'number') return null;
  if (sort && sort.field === condition.field) return ordering;
  // In index order, a field that grows with the index is sorted too.
  if (ordering.identity && source.monotone?.has(condition.field)) {
    return identityOrdering(source.count, keyFor(condition.field, condition.kind));
  }
  return null;
}
