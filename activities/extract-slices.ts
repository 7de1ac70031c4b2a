import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { CatalogTable } from '../klaviyo/catalog';
import type { KlaviyoClient } from '../klaviyo/klaviyo-client';
import { nextPage } from '../klaviyo/paging';
import { listCheckpoints } from '../control-plane/extract-checkpoints';
import {
  isSlicePart,
  sliceFilters,
  sliceField,
  sliceBytes,
  slicePart,
  sliceValue,
  splitRemainder,
  type SliceRange,
} from './slices';
import { SlicePlanner } from './slice-planner';
import { readSliceSettings, type SliceSettings } from './slice-settings';
import type { CopyTarget } from '../warehouse/copy-loader';
import { writeBatch } from './batch-write';
import type { PageEncoder } from '../warehouse/page-copy';

/**
 * A table read as several slices at once (slices.ts): over the internet one cursor has one request in flight, so
 * one chain of `links.next` cannot fill a rate tier; N chains over disjoint time ranges can. Each slice has its own
 * cursor chain and checkpoint (part `slice:<start>`), and all load into the same staged table.
 *
 * A read starts as one slice over everything, sorted by the slice field. When fewer slices run than the tier can
 * feed (its steady rate, shared by the sliced reads of that tier in this process, times the time a page takes; and
 * what memory allows), the slice with the most rows left (within a page) is split at its next page: the rows of that
 * page dated before its last row's second are kept, the slice ends there, and the rest of its range (from that second
 * on) is cut into new slices, all in the transaction that writes the page. A dense slice is split again as others
 * finish.
 * Each slice writes every {@link SLICE_BATCH_PAGES} pages and waits for the write, so a crash re-reads at most that
 * batch plus the pages read ahead: two checkpoint intervals.
 */

/** Pages per checkpoint of a slice. */
export const SLICE_BATCH_PAGES = 2;
const SLICE_BATCH_ROWS = 5_000;
/** A wait shorter than this (the parse of a page already in) means the page had come before the chain asked. */
const READY_SECONDS = 0.025;
/**
 * Pieces kept waiting beyond the target, as a share of it, so a slice that ends is followed at once, not a round trip
 * later at the next split (at 1,000 ms, 500,000 events: 61–63% of the limits-off rate without, 68–69% with them).
 */
const RESERVE_SHARE = 0.25;
/**
 * Write transactions of one table at a time: three, so the four tables a run reads at once hold at most the worker's
 * pool of 12 connections (anything else waits its turn). With two, the writes bound a 500,000-event read at 300 ms
 * to ~23,000 rows/s (73–75% of the limits-off rate in two runs); three read ~27,600 (93%), four ~26,900 (one traced
 * run each). At 1,000,000 events limits off, two and three gave the same time and peak RSS (three and four runs).
 */
const WRITES_AT_ONCE = 3;

export { readSliceSettings, type SliceSettings } from './slice-settings';

/** When the read started, on Klaviyo's clock and ours (kept in every slice's checkpoint). */
export interface ReadState {
  readStartedAt: string;
  startedAt: string;
}

export interface SlicedReadInput {
  pool: pg.Pool;
  client: KlaviyoClient;
  dataflowId: string;
  version: number;
  table: CatalogTable;
  target: CopyTarget;
  encodePage: PageEncoder;
  fields: readonly string[] | undefined;
  /** The incremental filter, ANDed with each slice's range. */
  filter?: string;
  incremental: boolean;
  settings?: SliceSettings;
  signal?: AbortSignal;
  onProgress?: (progress: { rows: number; pages: number; nextUrl: string | null; slices: number }) => void;
}

export interface SlicedReadResult {
  rows: number;
  pages: number;
  bytes: number;
  /** The most slices that ran at once. */
  slices: number;
  readState?: ReadState;
}

interface Slice {
  range: SliceRange;
  part: string;
  rows: number;
  pages: number;
  nextUrl: string | null;
  done: boolean;
  /** The latest slice value read in this attempt. */
  position: number | null;
  /** Rows per second of slice value in the latest page read. */
  density: number;
  /** Pages read in this attempt. */
  seen: number;
  /** Gave its place back at its checkpoint (more slices ran than the target): it waits in the queue to go on. */
  parked: boolean;
}

/** Whether `extractTable` reads a table in slices. */
export function readsInSlices(table: CatalogTable): boolean {
  return sliceField(table) !== null;
}

export async function readSliced(input: SlicedReadInput): Promise<SlicedReadResult> {
  const { table, client, pool } = input;
  const field = sliceField(table);
  if (!field) throw new Error(`The table "${table.name}" cannot be read in slices.`);
  const settings = input.settings ?? readSliceSettings();
  const fields = input.fields && !input.fields.includes(field) ? [...input.fields, field] : input.fields;
  const key = (part: string) => ({ dataflowId: input.dataflowId, version: input.version, table: table.name, part });
  const baseFilters = input.filter ? [input.filter] : [];

  const saved = (await listCheckpoints(pool, key(''))).filter((c) => isSlicePart(c.part));
  let readState: ReadState | undefined;
  const all: Slice[] = [];
  for (const c of saved) {
    const state = c.state as Partial<ReadState> & { slice?: SliceRange };
    if (!state?.slice) throw new Error(`The checkpoint ${c.part} of ${table.name} has no range; discard the run.`);
    if (typeof state.readStartedAt === 'string' && typeof state.startedAt === 'string') {
      if (!readState || state.readStartedAt < readState.readStartedAt) {
        readState = { readStartedAt: state.readStartedAt, startedAt: state.startedAt };
      }
    }
    all.push(newSlice(state.slice, c));
  }
  if (all.length === 0) all.push(newSlice({ start: null, end: null }));
  const queue = all.filter((s) => !s.done);

  const planner = new SlicePlanner(
    `${client.accountKey}|${table.tier}`,
    client.steadyRate({ table, fields, sort: field }),
    settings,
  );
  const stop = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, stop.signal]) : stop.signal;
  // Every slice's read listens to it.
  setMaxListeners(0, signal);
  let bytes = 0;
  let splitting = false;
  let upTo: Promise<number | null> | undefined;
  let mostAtOnce = 0;
  let writesActive = 0;
  /** Slices leaving to wait in the queue, not yet off the running set. */
  let parking = 0;
  const writeWaiters: (() => void)[] = [];
  const active = new Set<Slice>();

  const target = () => planner.target();
  const totals = () => ({
    rows: all.reduce((n, s) => n + s.rows, 0),
    pages: all.reduce((n, s) => n + s.pages, 0),
  });
  /** The last second of data when the read began to split (one request, sorted descending). */
  const lastSecond = () =>
    (upTo ??= client
      .firstPage({ table, fields: [field], filter: baseFilters, sort: `-${field}`, pageSize: 1 }, signal)
      .then((page) => sliceValue(page.data[0]?.attributes, field)));
  /** Rows a slice has left, at the density of its latest page (data is often far denser lately than long ago). */
  const remaining = (s: Slice, end: number | null): number => {
    if (s.position === null || s.density === 0) return 0;
    const stop = s.range.end ?? end ?? s.position + 1;
    return s.density * Math.max(0, stop - s.position);
  };
  /** How many pieces to cut the rest of `slice` into at this page; 0 for none. */
  const piecesFor = async (slice: Slice, pageRows: number): Promise<number> => {
    const goal = target();
    const wanted = goal + Math.floor(goal * RESERVE_SHARE) - active.size - queue.length;
    if (wanted <= 0 || splitting) return 0;
    // An incremental refresh splits no open-ended slice before its second page: a small one spends no probe.
    if (input.incremental && slice.range.end === null && slice.seen < 2) return 0;
    const end = slice.range.end === null ? await lastSecond() : null;
    // Others' positions are of their latest pages, up to a round trip old; this one's is of the page in hand, so it is
    // compared as of its page before: among slices about as long, the first at a page splits. (Compared as of now,
    // equal pieces waited for jitter to let one lead by a page: at 300 ms a read's 18 slices took 4 s to become 27.)
    const mine = remaining(slice, end);
    for (const other of active) if (other !== slice && remaining(other, end) > mine + pageRows) return 0;
    // Pieces of a page or more: a slice with a few pages left, near the end of a read, reads them side by side in one
    // round trip rather than one after another (pieces of a whole batch left 3–4 pages to one chain: at 1,000 ms a
    // 500,000-event read spent its last 6–8 s on a few slices).
    const byRows = Math.floor(mine / Math.max(1, pageRows));
    const pieces = Math.min(wanted + 1, byRows);
    return pieces >= 2 ? pieces : 0;
  };
  const writing = async <T>(fn: () => Promise<T>): Promise<T> => {
    while (writesActive >= WRITES_AT_ONCE) await new Promise<void>((resolve) => writeWaiters.push(resolve));
    writesActive++;
    try {
      return await fn();
    } finally {
      writesActive--;
      writeWaiters.shift()?.();
    }
  };

  const runSlice = async (slice: Slice): Promise<void> => {
    let batch: Buffer[] = [];
    let batchRows = 0;
    let batchPages = 0;
    /** When the chain asked for its next page (after handling the last one, and after its write if it wrote). */
    let previous = performance.now();
    /** When the chain had handled its last page, before its write if it wrote. */
    let handled = previous;
    // Whether the chain wrote since the last page: its request ran meanwhile.
    let wrote = false;
    const pages = client.pages({
      table,
      fields,
      filter: [...baseFilters, ...sliceFilters(table, slice.range)],
      sort: field,
      startUrl: slice.nextUrl ?? undefined,
      signal,
      byteStrings: true,
    });
    try {
      for (let page = await nextPage(pages); page !== undefined; page = await nextPage(pages)) {
        const now = performance.now();
        // How long the chain waited for this page after handling the last one: the latency its read-ahead did not hide.
        // (Not arrival to arrival: a chain bound by its handling, the worker's CPU, gains nothing from more slices.)
        // After a write, the page is a sample only when the chain still waited for it (it came after the write): then
        // the write is part of the wait. One that came during the write tells nothing of the latency.
        const waited = (now - previous) / 1000;
        const wait = !wrote ? waited : waited >= READY_SECONDS ? (now - handled) / 1000 : null;
        // What the slice holds by this page, its COPY text guessed as large as the page until one is measured.
        const ready = waited < READY_SECONDS;
        const heldGuess = sliceBytes({ bytes: page.bytes, encodedBytes: page.bytes, ready }, SLICE_BATCH_PAGES);
        planner.arrived(now, wait, runs.size, heldGuess);
        bytes += page.bytes;
        if (!readState) {
          const at = new Date();
          readState = { readStartedAt: (client.serverTime() ?? at).toISOString(), startedAt: at.toISOString() };
        }
        wake?.();
        slice.seen++;
        const values = page.data.map((r) => sliceValue(r.attributes, field));
        const sorted = values.every((v, i) => i === 0 || v === null || (values[i - 1] ?? -Infinity) <= v);
        const last = values.at(-1) ?? null;
        if (last !== null) slice.position = last;
        const head = values.find((v) => v !== null);
        if (last !== null && head !== undefined && head !== null) {
          slice.density = page.data.length / Math.max(1, last - head);
        }

        let keep = page.data;
        let pieces: SliceRange[] = [];
        const first = values[0] ?? null;
        if (page.nextUrl && sorted && last !== null && first !== null && first < last && !splitting) {
          const count = await piecesFor(slice, page.data.length);
          if (count >= 2 && (slice.range.start === null || last > slice.range.start)) {
            pieces = splitRemainder(slice.range, last, count, ((await lastSecond()) ?? last) + 1);
            if (pieces.length >= 2)
              keep = page.data.filter((_, i) => values[i] === null || (values[i] as number) < last);
          }
        }
        let encoded = 0;
        if (keep.length > 0) {
          const chunk = input.encodePage(keep, page.strings);
          batch.push(chunk);
          encoded = chunk.length;
          batchRows += keep.length;
        }
        batchPages++;
        // What the slice holds, measured on this page: a page that came within READY_SECONDS of being asked for was in
        // already (the chain is bound by its handling); one the chain waited for is bound by the network.
        const heldBytes = sliceBytes({ bytes: page.bytes, encodedBytes: encoded, ready }, SLICE_BATCH_PAGES);
        planner.page(now, { heldBytes, rows: page.data.length }, runs.size);
        // The page is let go once encoded, only its link kept (see nextPage): with `for await`, a chain held its last
        // page, raw and parsed, through its write and the round trip to its next page.
        const nextUrl = page.nextUrl;
        [page, keep] = [undefined, []];
        const ends = nextUrl === null || pieces.length > 0;
        if (!ends && batchRows < SLICE_BATCH_ROWS && batchPages < SLICE_BATCH_PAGES) {
          previous = performance.now();
          handled = previous;
          wrote = false;
          continue;
        }
        handled = performance.now();
        if (pieces.length > 0) splitting = true;
        const range = pieces.length > 0 ? { start: slice.range.start, end: last } : slice.range;
        const born = pieces.map((r) => newSlice(r));
        const [chunks, rows, loaded] = [batch, batchRows, batchPages];
        [batch, batchRows, batchPages] = [[], 0, 0];
        // What this slice is once the batch is written, checkpointed with each new piece's start: one transaction.
        const after = {
          range,
          nextUrl: ends ? null : nextUrl,
          rows: slice.rows + rows,
          pages: slice.pages + loaded,
          done: ends,
        };
        const checkpoints = [{ part: slice.part, ...after }, ...born].map((s) => ({
          ...key(s.part),
          nextUrl: s.nextUrl,
          rows: s.rows,
          pages: s.pages,
          done: s.done,
          state: { ...readState, slice: s.range },
        }));
        try {
          await writing(() => writeBatch(pool, input.target, { chunks, rows }, checkpoints, input.incremental));
        } finally {
          if (pieces.length > 0) splitting = false;
        }
        Object.assign(slice, after);
        all.push(...born);
        queue.push(...born);
        input.onProgress?.({ ...totals(), nextUrl: slice.nextUrl, slices: active.size + queue.length });
        // Leaving the loop cancels what was read ahead past the new end.
        if (ends) break;
        // More slices run than the target (the climb stepped back, or memory is short): this one gives its place back
        // at its checkpoint, its read-ahead cancelled, and goes on from its next link when a place is free.
        if (runs.size - parking > target()) {
          parking++;
          slice.parked = true;
          break;
        }
        previous = performance.now();
        wrote = true;
      }
    } finally {
      await pages.return(undefined);
    }
  };

  // A full read with an open-ended slice is likely to split, at its first page: its last second is asked for now,
  // beside that page, so the split does not wait a round trip for it. An incremental refresh reads little and spends
  // the request only if it does split (a one-page read never asks). A failure is thrown where the split awaits it.
  if (!input.incremental && queue.some((s) => s.range.end === null)) lastSecond().catch(() => undefined);
  const runs = new Map<Slice, Promise<void>>();
  // The scheduler wakes at each page as well as at each slice's end: the target grows as pages tell the latency.
  let wake: (() => void) | undefined;
  const pageArrived = () => new Promise<void>((resolve) => (wake = resolve));
  try {
    while (queue.length > 0 || runs.size > 0) {
      while (queue.length > 0 && (runs.size === 0 || runs.size < target())) {
        const slice = queue.shift() as Slice;
        active.add(slice);
        runs.set(
          slice,
          runSlice(slice).finally(() => {
            active.delete(slice);
            runs.delete(slice);
            if (slice.parked) {
              slice.parked = false;
              parking--;
              queue.push(slice);
            }
          }),
        );
        mostAtOnce = Math.max(mostAtOnce, runs.size);
      }
      await Promise.race([...runs.values(), pageArrived()]);
    }
  } catch (err) {
    stop.abort(err);
    await Promise.allSettled(runs.values());
    throw err;
  } finally {
    planner.close();
  }
  return { ...totals(), bytes, slices: mostAtOnce, readState };
}

function newSlice(
  range: SliceRange,
  saved?: { rows: number; pages: number; nextUrl: string | null; done: boolean },
): Slice {
  return {
    range,
    part: slicePart(range),
    rows: saved?.rows ?? 0,
    pages: saved?.pages ?? 0,
    nextUrl: saved?.nextUrl ?? null,
    done: saved?.done ?? false,
    position: null,
    density: 0,
    seen: 0,
    parked: false,
  };
}
