import type { CatalogTable } from '../klaviyo/catalog';
import { klaviyoFilter } from '../klaviyo/query';
import type { Queryable } from '../control-plane/postgres';
import { qualifiedName, quoteIdent, versionedTableName } from '../warehouse/identifiers';
import type { TableLayout } from '../warehouse/table-layout';
import type { TableRead } from '../control-plane/versions';
import { readEnvNumber } from '../shared/env-number';

/**
 * Incremental refresh (docs/ARCHITECTURE.md, "Incremental refresh"): version N+1 of a table is built from version N
 * plus the rows Klaviyo reports changed since N's watermark.
 *
 * The watermark is not stored anywhere: it is the largest cursor value (e.g. `profiles.updated`) in the
 * committed table N itself. That state cannot drift from the data it describes, a rollback moves it back
 * with the pointer, and a crash can never leave a watermark ahead of the rows. The price: a table whose
 * cursor field the user deselected cannot be read incrementally (the run says so in its notices).
 *
 * It is bounded by when N's read of the table started, on Klaviyo's clock: Klaviyo accepts rows dated in the
 * future (an event dated next month), and a watermark pushed there would skip every real row dated in between.
 * Rows dated after the bound are kept and read again by each refresh until Klaviyo's clock passes them.
 */

/** Re-read this much before the watermark, so rows sharing its timestamp at a page edge are never lost. */
export const CURSOR_OVERLAP_SECONDS = 300;

export interface IncrementalOptions {
  /**
   * How far before the watermark late-arriving tables (events) are re-read, in hours, instead of the catalog's
   * `lateArrivalHours` (72 for events). Tables the catalog gives no late-arrival window keep none.
   * @default the catalog's
   */
  lateArrivalHours?: number;
}

/** `DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS=<hours>` (0 or more); unset means the catalog's window (72 for events). */
export function readIncrementalOptions(env: NodeJS.ProcessEnv = process.env): IncrementalOptions {
  const hours = readEnvNumber(env, 'DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS', { min: 0, unit: 'hours' });
  return hours === undefined ? {} : { lateArrivalHours: hours };
}

/** How one table of a run is read incrementally: the committed version it builds on, and since when. */
export interface IncrementalPlan {
  fromVersion: number;
  /** ISO 8601, whole seconds: the filter value (watermark minus overlap or late-arrival window). */
  since: string;
  /** List every id Klaviyo still has and leave out the rows it no longer does (deletion-sweep.ts). @default false */
  deletionSweep?: boolean;
  /** When the base version last saw every id (its TableRead.sweptAt), kept on when this refresh does not sweep. */
  lastSweptAt?: string | null;
}

/**
 * Whether a table can be read incrementally at all: it has a change cursor and is read in one pass.
 * Fan-out tables (memberships, flow actions…) are read per parent, and a parent's change says nothing
 * about its children's, so they are always read in full.
 */
export function supportsIncremental(table: CatalogTable): boolean {
  return table.incremental !== null && table.parent === null && table.requiredFilter?.kind !== 'parent';
}

/** The Klaviyo filter of an incremental read, with the catalog's operator for the cursor field. */
export function incrementalFilter(table: CatalogTable, since: string): string {
  if (!table.incremental) throw new Error(`The table "${table.name}" has no change cursor.`);
  const { field, operator } = table.incremental;
  const value = new Date(since);
  switch (operator) {
    case 'greater-than':
      return klaviyoFilter.greaterThan(field, value);
    case 'greater-or-equal':
      return klaviyoFilter.greaterOrEqual(field, value);
    default:
      throw new Error(`The table "${table.name}" has an unknown cursor operator "${operator}".`);
  }
}

export type IncrementalDecision = { plan: IncrementalPlan; notice?: string } | { plan: null; notice?: string };

/**
 * Decides how `table` is read in a run that stages a new version on top of committed version `base`:
 * incrementally from `base` when `base` holds the table with exactly `layout`'s columns and its cursor
 * column has a value; else in full, with a notice when the user might wonder why. `baseRead` is how the base
 * version read the table (absent for versions from before it was recorded: then the watermark is unbounded).
 */
export async function planIncremental(
  db: Queryable,
  input: {
    schema: string;
    table: CatalogTable;
    layout: TableLayout;
    base: number | null;
    full: boolean;
    options: IncrementalOptions;
    baseRead?: TableRead;
  },
): Promise<IncrementalDecision> {
  const { table, layout, base } = input;
  if (input.full || base === null || !supportsIncremental(table) || !table.incremental) return { plan: null };
  const cursorField = table.incremental.field;
  const cursorColumn = layout.columns.find((c) => c.source.kind === 'attribute' && c.source.field === cursorField);
  if (!cursorColumn || cursorColumn.type !== 'timestamptz') {
    return {
      plan: null,
      notice: `${table.name}: read in full, because its change cursor "${cursorField}" is not selected`,
    };
  }
  const baseColumns = await tableColumns(db, input.schema, versionedTableName(table.name, base));
  if (baseColumns === null) return { plan: null };
  const wanted = layout.columns.map((c) => `${c.name} ${c.type}`).sort();
  if (baseColumns.join(',') !== wanted.join(',')) {
    return {
      plan: null,
      notice: `${table.name}: read in full, because its selected fields changed since version ${base}`,
    };
  }
  const latest = await maxCursor(db, input.schema, versionedTableName(table.name, base), cursorColumn.name);
  // An empty table (or one without any cursor value) has no watermark; reading it in full costs little.
  if (latest === null) return { plan: null };
  const readStarted = input.baseRead ? new Date(input.baseRead.readStartedAt) : null;
  const bounded = readStarted !== null && !Number.isNaN(readStarted.getTime()) && readStarted < latest;
  const watermark = bounded ? readStarted : latest;
  const notice = bounded
    ? `${table.name}: rows dated after version ${base} was read (latest ${iso(latest)}) are read again until then`
    : undefined;
  const lateArrivalHours =
    table.lateArrivalHours === null ? 0 : (input.options.lateArrivalHours ?? table.lateArrivalHours);
  const lookBackSeconds = Math.max(CURSOR_OVERLAP_SECONDS, lateArrivalHours * 3600);
  const sinceMs = Math.floor(watermark.getTime() / 1000 - lookBackSeconds) * 1000;
  return { plan: { fromVersion: base, since: iso(new Date(sinceMs)) }, notice };
}

/** ISO 8601 in whole seconds, as Klaviyo's filters take it. */
function iso(date: Date): string {
  return new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** `name type` of each loaded column of a per-version table (system columns left out), sorted; null if absent. */
async function tableColumns(db: Queryable, schema: string, table: string): Promise<string[] | null> {
  const { rows } = await db.query<{ exists: boolean; columns: string[] | null }>(
    `SELECT to_regclass($1) IS NOT NULL AS exists,
            (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attname)
             FROM pg_attribute a
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attname NOT IN ('_version', '_extracted_at')) AS columns`,
    [qualifiedName(schema, table)],
  );
  if (!rows[0]?.exists) return null;
  // format_type says `timestamp with time zone` where the layout says `timestamptz`.
  return (rows[0].columns ?? []).map((c) => c.replace(/ timestamp with time zone$/, ' timestamptz')).sort();
}

async function maxCursor(db: Queryable, schema: string, table: string, column: string): Promise<Date | null> {
  const { rows } = await db.query<{ watermark: Date | null }>(
    `SELECT max(${quoteIdent(column)}) AS watermark FROM ${qualifiedName(schema, table)}`,
  );
  return rows[0]?.watermark ?? null;
}
