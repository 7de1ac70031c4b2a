import type { CatalogTable } from '../klaviyo/catalog';
import { klaviyoFilter } from '../klaviyo/query';

/**
 * Slices of a table read in parallel (extract-slices.ts): half-open ranges `[start, end)` of a creation time the
 * listing can filter and sort by (the catalog's `slice`), in whole seconds since the epoch, null for unbounded.
 * Pure: no I/O.
 *
 * Klaviyo's timestamps are whole seconds, so a range is exact with whichever operators the endpoint offers:
 * `greater-or-equal(f, start)` or `greater-than(f, start − 1 s)`; `less-than(f, end)` or `less-or-equal(f, end − 1 s)`.
 */
export interface SliceRange {
  start: number | null;
  end: number | null;
}

/** Whether a table can be sliced: a catalog slice field that can be bounded on both sides and sorted by. */
export function sliceField(table: CatalogTable): string | null {
  const field = table.slice?.field;
  if (!field || !table.sorts.includes(field)) return null;
  const ops = table.filters[field]?.operators ?? [];
  const lower = ops.includes('greater-or-equal') || ops.includes('greater-than');
  const upper = ops.includes('less-than') || ops.includes('less-or-equal');
  return lower && upper ? field : null;
}

/** The filters that bound a read to `range` (none for the unbounded range). */
export function sliceFilters(table: CatalogTable, range: SliceRange): string[] {
  const field = sliceField(table);
  if (!field) throw new Error(`The table "${table.name}" cannot be read in slices.`);
  const ops = table.filters[field].operators;
  const at = (seconds: number) => new Date(seconds * 1000);
  const filters: string[] = [];
  if (range.start !== null) {
    filters.push(
      ops.includes('greater-or-equal')
        ? klaviyoFilter.greaterOrEqual(field, at(range.start))
        : klaviyoFilter.greaterThan(field, at(range.start - 1)),
    );
  }
  if (range.end !== null) {
    filters.push(
      ops.includes('less-than')
        ? klaviyoFilter.lessThan(field, at(range.end))
        : klaviyoFilter.lessOrEqual(field, at(range.end - 1)),
    );
  }
  return filters;
}

/** The checkpoint part of a slice: `slice:<start, ISO>`, or `slice:*` for the one open below. Starts are unique. */
export function slicePart(range: SliceRange): string {
  return range.start === null ? 'slice:*' : `slice:${new Date(range.start * 1000).toISOString()}`;
}

export function isSlicePart(part: string): boolean {
  return part.startsWith('slice:');
}

/** A row's slice value in whole seconds (null when absent or unreadable). */
export function sliceValue(attributes: Record<string, unknown> | undefined, field: string): number | null {
  const value = attributes?.[field];
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/**
 * Splits what is left of a slice whose read reached `position` (the value of the last row of a page, rows with
 * that value possibly cut by the page edge) into `pieces` ranges: `[position, b1), [b1, b2) … [bk, end)`. `upTo` is
 * where the data is believed to end when `end` is open. Fewer pieces when the span has fewer whole seconds; [] when
 * it cannot be split at all.
 */
export function splitRemainder(range: SliceRange, position: number, pieces: number, upTo: number): SliceRange[] {
  const end = range.end ?? Math.max(upTo, position + 1);
  const span = end - position;
  const count = Math.min(pieces, span);
  if (count < 2) return [];
  const out: SliceRange[] = [];
  let start = position;
  for (let i = 1; i <= count; i++) {
    const bound = i === count ? range.end : position + Math.floor((span * i) / count);
    out.push({ start, end: bound });
    if (bound !== null) start = bound;
  }
  return out;
}

/**
 * How many slices keep the tier busy: a slice has one request in flight at a time, so the budget's steady rate
 * (its share of it) times the time a page takes, plus one; never more than memory allows, nor `max`.
 */
export function sliceTarget(input: {
  requestsPerSecond: number;
  share: number;
  pageSeconds: number;
  memoryBytes: number;
  bytesPerSlice: number;
  max: number;
}): number {
  const byRate = Math.ceil((input.requestsPerSecond / Math.max(1, input.share)) * input.pageSeconds) + 1;
  const byMemory = Math.floor(input.memoryBytes / Math.max(1, input.bytesPerSlice));
  return Math.max(1, Math.min(byRate, byMemory, input.max));
}
