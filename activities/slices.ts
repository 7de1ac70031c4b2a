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
 * The fewest slices that keep the tier busy when the network, not the CPU, is what a chain waits for: a slice has
 * one request in flight at a time, so the budget's steady rate (this read's share of it) times the time a chain
 * waits for its next page, plus one. `waitSeconds` is a low percentile of the waits ({@link lowWait}): latency the
 * read-ahead did not hide, not the time a busy CPU (ours or the server's) added on top.
 */
export function sliceFloor(input: { requestsPerSecond: number; share: number; waitSeconds: number }): number {
  return Math.ceil((input.requestsPerSecond / Math.max(1, input.share)) * Math.max(0, input.waitSeconds)) + 1;
}

/**
 * The wait a floor is taken from: the 5th percentile of the latest ones. Jitter sits above it, and so does a server
 * slowed by a busy CPU (the sandbox on the worker's cores), which more slices would not speed up: its waits vary with
 * its load, so a few are short, while the network's round trip is never shorter than itself. Undefined before
 * `least` waits. One: a full read splits at its first page, a round trip earlier than at its second (at 1,000 ms a
 * second of one cursor). The first wait holds no cold start to leave out: the run's scope check has already read the
 * table (without latency, a 500,000-event read's first page took 59 ms in the sandbox, its second 56 ms).
 */
export function lowWait(waits: readonly number[], least = 1): number | undefined {
  if (waits.length === 0 || waits.length < least) return undefined;
  const sorted = [...waits].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) * 0.05)];
}

/**
 * The bytes one slice holds, from a page it read. A chain that waited for the page (the network binds it) holds the
 * page in hand (raw, while it is parsed and encoded; the parsed page is dropped once encoded) and its batch's COPY
 * text, `batchPages` pages of it at the page's measured encoded size, held until the batch's write ends; its next
 * request is in flight, nothing ahead. A page that was in before the chain asked (its handling binds it) counts
 * {@link CPU_BOUND_PAGES} raw pages: the read-ahead full, the page in hand parsed, the batch in COPY text and in the
 * write, whose garbage such a chain makes as fast as the CPU goes (the end-to-end run's peak RSS was measured at it).
 */
export function sliceBytes(page: { bytes: number; encodedBytes: number; ready: boolean }, batchPages: number): number {
  return page.ready ? page.bytes * CPU_BOUND_PAGES : page.bytes + page.encodedBytes * batchPages;
}

export const CPU_BOUND_PAGES = 8;

/**
 * The slices a read may run within the worker's memory budget, shared by every sliced read of the process: what
 * the others do not hold, and never less than an even share (the others shrink to theirs as their slices end, so
 * the total passes the budget by at most one even share, and only while they do); at least one.
 */
export function memoryCap(input: { budgetBytes: number; othersBytes: number; reads: number; bytesPerSlice: number }) {
  const even = input.budgetBytes / Math.max(1, input.reads);
  const mine = Math.max(even, input.budgetBytes - input.othersBytes);
  return Math.max(1, Math.floor(mine / Math.max(1, input.bytesPerSlice)));
}

/** The slices a read runs: the hill-climber's cap, never below the floor; never above memory nor `max`. */
export function sliceTarget(input: { floor: number; climbed: number; memory: number; max: number }): number {
  return Math.max(1, Math.min(Math.max(input.floor, input.climbed), input.memory, input.max));
}

/**
 * Hill-climbing on a read's observed rows/s: past the floor, a slice more is only worth it when it raises the rate.
 * The rate is measured in windows of steady slice counts, each at least `minSeconds` long and `pagesPerSlice` pages
 * per running slice (so a window is a few round trips whatever the latency); when the slices running reach the target, a window whose
 * rate beats the best rate at fewer slices by {@link CLIMB}.gain allows the next step up; one that does not brings
 * the cap back to the count below and holds it there for `holdWindows` windows before probing again (hysteresis:
 * noise neither ratchets it up nor makes it flap).
 */
export interface ClimbState {
  /** Slices the climber allows (the floor can still ask for more). */
  cap: number;
  /** The window measured: slices running throughout, since when (s), rows and pages read by then. */
  window: { running: number; since: number; rows: number; pages: number } | null;
  /** The latest rate, rows/s, measured at each count of running slices. */
  rates: Record<number, number>;
  /** Windows left before a step up is tried again. */
  hold: number;
}

export const CLIMB = { minSeconds: 1, pagesPerSlice: 3, gain: 0.2, holdWindows: 6 };

export function startClimb(): ClimbState {
  return { cap: 1, window: null, rates: {}, hold: 0 };
}

/** The step after `n` slices: half as many again, at least one more. */
export function stepUp(n: number): number {
  return Math.max(n + 1, Math.ceil(n * 1.5));
}

/**
 * The climber after a page: `rows` and `pages` read so far by the whole read, `running` slices now, `target` the target in force,
 * `now` in seconds. Pure.
 */
export function climb(
  state: ClimbState,
  sample: { now: number; rows: number; pages: number; running: number; target: number },
  settings = CLIMB,
): ClimbState {
  const { now, rows, pages, running } = sample;
  const w = state.window;
  if (w === null || w.running !== running) return { ...state, window: { running, since: now, rows, pages } };
  const elapsed = now - w.since;
  if (elapsed < settings.minSeconds || pages - w.pages < settings.pagesPerSlice * running) return state;
  const rate = (rows - w.rows) / elapsed;
  const rates = { ...state.rates, [running]: rate };
  const next: ClimbState = { ...state, rates, window: { running, since: now, rows, pages } };
  // Fewer slices than the target (nothing left worth splitting): the window says nothing about the target.
  if (running < sample.target) return next;
  if (state.hold > 0) return { ...next, hold: state.hold - 1 };
  const below = Object.entries(state.rates)
    .map(([n, r]) => [Number(n), r] as const)
    .filter(([n]) => n < running);
  const bestBelow = below.reduce((best, [, r]) => Math.max(best, r), 0);
  if (below.length === 0 || rate >= bestBelow * (1 + settings.gain)) {
    return { ...next, cap: stepUp(running) };
  }
  const previous = below.reduce((most, [n]) => Math.max(most, n), 1);
  return { ...next, cap: previous, hold: settings.holdWindows };
}
