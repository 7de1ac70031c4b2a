import type pg from 'pg';
import { getTable, type CatalogTable } from '../klaviyo/catalog';
import type { KlaviyoClient } from '../klaviyo/klaviyo-client';
import { nextPage } from '../klaviyo/paging';
import { getCheckpoint } from '../control-plane/extract-checkpoints';
import { withTransaction } from '../control-plane/postgres';
import type { DataflowTable } from '../control-plane/table-selection';
import { recordTableRead } from '../control-plane/versions';
import { readSliced, readSliceSettings, readsInSlices } from './extract-slices';
import { incrementalFilter, supportsIncremental, type IncrementalPlan } from './incremental-cursor';
import { klaviyoFilter } from '../klaviyo/query';
import { loadLiveKeys } from './sweep-deletions';
import { versionTarget } from '../warehouse/copy-loader';
import { writeBatch } from './batch-write';
import { copyForwardVersion, countLeftBehind } from '../warehouse/copy-forward';
import { addPrimaryKey } from '../warehouse/staged-tables';
import { qualifiedName } from '../warehouse/identifiers';
import { pageEncoder } from '../warehouse/page-copy';
import type { RowContext } from '../warehouse/row-mapping';
import { tableLayout, type TableLayout } from '../warehouse/table-layout';
import type { TableSummary } from '../shared/operations';

/** A batch is committed (rows + checkpoint in one transaction) once it holds this many rows… */
export const BATCH_ROWS = 5_000;
/** …or this many pages, so slow small-page tables still checkpoint often. */
export const BATCH_PAGES = 10;
/** Batches (as COPY text, a few MB each) that may wait behind the one being written before reading waits. */
const WRITES_QUEUED = 1;

/** Progress as heartbeated: safe to show (URLs of Klaviyo pages hold no secret). */
export interface ExtractProgress {
  table: string;
  part: string;
  rows: number;
  pages: number;
  nextUrl: string | null;
  /** While a page is being retried: why, which attempt, when the next (see {@link retryingWords}). */
  retrying?: string;
}

/** `Klaviyo 503, attempt 3/5, next in 8 s`: a retried page in the words of the run's progress. */
export function retryingWords(info: { reason: string; attempt: number; attempts: number; waitMs: number }): string {
  return `${info.reason}, attempt ${info.attempt}/${info.attempts}, next in ${Math.max(1, Math.round(info.waitMs / 1000))} s`;
}

export interface ExtractInput {
  pool: pg.Pool;
  client: KlaviyoClient;
  dataflowId: string;
  schema: string;
  version: number;
  selection: DataflowTable;
  /** Read only what changed since `since` and copy the rest forward from `fromVersion`. @default a full read */
  incremental?: IncrementalPlan;
  signal?: AbortSignal;
  onProgress?: (progress: ExtractProgress) => void;
}

/**
 * One pass over a table: a fan-out parent, a campaign channel, or the whole table (`part` ''); and for tables whose
 * archived rows Klaviyo lists only when asked, one more pass per part for them (`archived`, `email:archived`).
 */
interface Part {
  part: string;
  parentId?: string;
  /** The pass's own filter (`equals(archived,true)`), ANDed with the others. */
  filter?: string;
  context: RowContext;
}

/** What a part's checkpoint keeps besides its position: when its read started, on Klaviyo's and on our clock. */
interface PartState {
  readStartedAt: string;
  startedAt: string;
}

/** The warehouse layout of a table with the fields the user selected. */
export function selectedLayout(selection: DataflowTable): TableLayout {
  const table = getTable(selection.table);
  const selected = new Set(selection.selectedFields);
  return tableLayout(
    table,
    selection.availableFields.filter((f) => selected.has(f.name)),
  );
}

/**
 * Streams a table from Klaviyo into its staged version table. Every batch of pages is COPYed in the
 * same transaction that saves the cursor checkpoint, so a retried activity resumes exactly after the
 * last committed batch: no row twice, no row lost, at most one batch of pages fetched again.
 *
 * Incrementally (`input.incremental`), only rows changed since the plan's `since` are read; they replace
 * rows of the same key (the overlap re-reads some), then every other row of the base version is copied
 * forward. The copy is idempotent by key, so a retry after it is harmless.
 */
export async function extractTable(input: ExtractInput): Promise<TableSummary> {
  const table = getTable(input.selection.table);
  const layout = selectedLayout(input.selection);
  const target = versionTarget(input.schema, input.version, layout);
  const encodePage = pageEncoder(target, layout);
  // With every field deselected, ask for `id` alone: the smallest sparse fieldset Klaviyo takes.
  const fields = table.idsOnly
    ? undefined
    : input.selection.selectedFields.length > 0 || table.fields.length === 0
      ? input.selection.selectedFields
      : ['id'];
  const summary: TableSummary = { table: table.name, rows: 0, pages: 0, bytes: 0 };
  const incremental = input.incremental;
  const filter = incremental ? incrementalFilter(table, incremental.since) : undefined;
  // The earliest start of any part: the read of the table started then (a retry keeps the first attempt's).
  let readStarted: PartState | undefined;
  const started = (state: PartState) => {
    if (!readStarted || state.readStartedAt < readStarted.readStartedAt) readStarted = state;
  };

  const parts = await listParts(input.client, table, input.signal);
  // DATAFLOW_MAX_SLICES=1 reads every table on one cursor, as before slicing.
  const sliceSettings = readSliceSettings();
  for (const part of parts) {
    const key = { dataflowId: input.dataflowId, version: input.version, table: table.name, part: part.part };
    const checkpoint = await getCheckpoint(input.pool, key);
    // A table with a creation time to range over is read as parallel slices (extract-slices.ts), unless an attempt
    // from before slicing (or with slicing off) left a whole-table checkpoint to finish.
    if (part.part === '' && !part.filter && !checkpoint && readsInSlices(table) && sliceSettings.maxSlices > 1) {
      const sliced = await readSliced({
        pool: input.pool,
        client: input.client,
        dataflowId: input.dataflowId,
        version: input.version,
        table,
        target,
        encodePage,
        fields,
        filter,
        incremental: incremental !== undefined,
        settings: sliceSettings,
        signal: input.signal,
        onProgress: (p) =>
          input.onProgress?.({ table: table.name, part: '', rows: p.rows, pages: p.pages, nextUrl: p.nextUrl }),
      });
      summary.rows += sliced.rows;
      summary.pages += sliced.pages;
      summary.bytes += sliced.bytes;
      if (sliced.readState) started(sliced.readState);
      continue;
    }
    let rows = checkpoint?.rows ?? 0;
    let pages = checkpoint?.pages ?? 0;
    let state = partState(checkpoint?.state);
    if (state) started(state);
    if (checkpoint?.done) {
      summary.rows += rows;
      summary.pages += pages;
      continue;
    }
    // Each page is encoded as COPY text on arrival; a batch holds only that text until it is written.
    let batch: Buffer[] = [];
    let batchRows = 0;
    let batchPages = 0;
    // Batches are written while the next ones are fetched: one after the other, each with its checkpoint,
    // up to WRITES_QUEUED behind the one being written before the read waits. `writes` holds them in order.
    const writes: Promise<void>[] = [];
    const write = async (chunks: Buffer[], loadedRows: number, loadedPages: number, nextUrl: string | null) => {
      const checkpoint = {
        ...key,
        nextUrl,
        rows: rows + loadedRows,
        pages: pages + loadedPages,
        done: nextUrl === null,
        state,
      };
      await writeBatch(input.pool, target, { chunks, rows: loadedRows }, [checkpoint], incremental !== undefined);
      rows += loadedRows;
      pages += loadedPages;
      input.onProgress?.({
        table: table.name,
        part: part.part,
        rows: summary.rows + rows,
        pages: summary.pages + pages,
        nextUrl,
      });
    };
    const answers = input.client.pages({
      table,
      parentId: part.parentId,
      fields,
      filter: part.filter && filter ? [filter, part.filter] : (part.filter ?? filter),
      startUrl: checkpoint?.nextUrl ?? undefined,
      signal: input.signal,
      // Strings stay UTF-8 bytes from the answer to the COPY where that is exact (byte-strings.ts).
      byteStrings: true,
    });
    try {
      // Each page is let go once encoded, not held through the next round trip (see nextPage).
      for (let page = await nextPage(answers); page !== undefined; page = await nextPage(answers)) {
        if (!state) {
          // Klaviyo's clock from the first answer (never the worker's, which may be skewed), once per part.
          const now = new Date();
          state = { readStartedAt: (input.client.serverTime() ?? now).toISOString(), startedAt: now.toISOString() };
          started(state);
        }
        if (page.data.length > 0) {
          batch.push(encodePage(page.data, page.strings, part.context));
          batchRows += page.data.length;
        }
        batchPages++;
        summary.bytes += page.bytes;
        const nextUrl = page.nextUrl;
        page = undefined;
        if (nextUrl !== null && batchRows < BATCH_ROWS && batchPages < BATCH_PAGES) continue;
        if (writes.length > WRITES_QUEUED) await writes.shift();
        const [chunks, loadedRows, loadedPages] = [batch, batchRows, batchPages];
        const previous = writes.at(-1) ?? Promise.resolve();
        // After a failed write none of the later ones runs; the failure surfaces at the next await.
        const written = previous.then(() => write(chunks, loadedRows, loadedPages, nextUrl));
        // This only keeps a failure from being "unhandled" until it is awaited.
        written.catch(() => undefined);
        writes.push(written);
        batch = [];
        batchRows = 0;
        batchPages = 0;
      }
      for (const written of writes) await written;
    } finally {
      await answers.return(undefined);
      // Never leave a write running behind a failure: the retry must find its checkpoint settled.
      await writes.at(-1)?.catch(() => undefined);
    }
    summary.rows += rows;
    summary.pages += pages;
  }
  // A table with no part (no parent rows) made no request: the clocks now stand for its start.
  const now = new Date();
  const read = readStarted ?? {
    readStartedAt: (input.client.serverTime() ?? now).toISOString(),
    startedAt: now.toISOString(),
  };
  const record = (sweptAt: string | null) =>
    supportsIncremental(table)
      ? recordTableRead(input.pool, {
          dataflowId: input.dataflowId,
          version: input.version,
          table: table.name,
          read: { readStartedAt: read.readStartedAt, sweptAt },
        })
      : Promise.resolve();
  if (!incremental) {
    // A full load's table was created without its key (see keyAfterLoad): build it now, in one pass.
    await withTransaction(input.pool, (db) =>
      addPrimaryKey(db, { schema: input.schema, version: input.version, definition: layout }),
    );
    // A full read saw every id Klaviyo had: it is as good as a deletion sweep.
    await record(read.startedAt);
    return summary;
  }

  const rowsRead = summary.rows;
  let sweptAt = incremental.lastSweptAt ?? null;
  const { total, deleted } = await withTransaction(input.pool, async (db) => {
    let swept: Awaited<ReturnType<typeof loadLiveKeys>> | undefined;
    if (incremental.deletionSweep) {
      sweptAt = new Date().toISOString();
      swept = await loadLiveKeys(db, {
        client: input.client,
        table,
        layout,
        passes: parts,
        signal: input.signal,
      });
    }
    const from = incremental.fromVersion;
    const forward = { schema: input.schema, table: table.name, from, to: input.version };
    await copyForwardVersion(db, { ...forward, keep: swept?.keys });
    const left = swept ? await countLeftBehind(db, { ...forward, key: layout.primaryKey }) : undefined;
    const { rows } = await db.query<{ count: string }>(
      `SELECT count(*) AS count FROM ${qualifiedName(input.schema, target.table)}`,
    );
    return { total: Number(rows[0].count), deleted: left };
  });
  await record(sweptAt);
  // The version's rows, as after a full read; what was read from Klaviyo is told apart.
  const { deletionSweep: _sweep, lastSweptAt: _last, ...plan } = incremental;
  return {
    ...summary,
    rows: total,
    incremental: { ...plan, rowsRead },
    ...(deleted === undefined ? {} : { deleted }),
  };
}

/** The state a part's checkpoint saved, if it is one. */
function partState(value: unknown): PartState | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { readStartedAt, startedAt } = value as Partial<PartState>;
  return typeof readStartedAt === 'string' && typeof startedAt === 'string' ? { readStartedAt, startedAt } : undefined;
}

/**
 * The passes a table needs: one per parent id for fan-out tables (recursively: flow messages hang
 * off flow actions, which hang off flows), one per channel for campaigns, one per coupon for coupon
 * codes, else one.
 */
async function listParts(client: KlaviyoClient, table: CatalogTable, signal?: AbortSignal): Promise<Part[]> {
  if (table.requiredFilter?.kind === 'channel') {
    return withHiddenRows(
      table,
      table.requiredFilter.values.map((channel) => ({ part: channel, parentId: channel, context: { channel } })),
    );
  }
  const parentTable =
    table.parent?.table ?? (table.requiredFilter?.kind === 'parent' ? table.requiredFilter.table : null);
  if (!parentTable) return withHiddenRows(table, [{ part: '', context: {} }]);
  const ids = await listIds(client, getTable(parentTable), signal);
  return ids.map((id) => ({ part: id, parentId: id, context: { parentId: id } }));
}

/** The parts, each followed by its pass over the rows Klaviyo lists only when asked (archived ones). */
function withHiddenRows(table: CatalogTable, parts: Part[]): Part[] {
  const hidden = table.hiddenUnlessFiltered;
  if (!hidden) return parts;
  const filter = klaviyoFilter.equals(hidden.field, hidden.value);
  return parts.flatMap((p) => [p, { ...p, part: p.part ? `${p.part}:${hidden.field}` : hidden.field, filter }]);
}

/** Every id of a table (archived rows included), reading as little as Klaviyo allows: `fields[<type>]=id`. */
async function listIds(client: KlaviyoClient, table: CatalogTable, signal?: AbortSignal): Promise<string[]> {
  const parts = await listParts(client, table, signal);
  const ids: string[] = [];
  const fields = table.idsOnly || table.fields.length === 0 ? undefined : ['id'];
  for (const part of parts) {
    for await (const page of client.pages({ table, parentId: part.parentId, fields, filter: part.filter, signal })) {
      for (const resource of page.data) ids.push(resource.id);
    }
  }
  return ids;
}
