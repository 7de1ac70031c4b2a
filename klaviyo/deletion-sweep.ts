import { RATE_TIERS, type CatalogTable } from './catalog';

/**
 * Deletion sweeps. An incremental read only sees rows that changed, never rows deleted in Klaviyo, so a table
 * refreshed incrementally keeps them until a sweep lists every id it still has (`fields[<type>]=id`, the largest
 * page, one pass per channel and for archived rows) and drops from the new version the rows whose id is gone.
 * Tables read in full need none: what Klaviyo no longer lists is not in the new version.
 */

/** The dataflow setting: when a sweep that is not cheap runs. Cheap sweeps run with every refresh but `off`. */
export const DELETION_SWEEPS = ['every-run', 'daily', 'weekly', 'off'] as const;
export type DeletionSweep = (typeof DELETION_SWEEPS)[number];
export const DEFAULT_DELETION_SWEEP: DeletionSweep = 'daily';

const CADENCE_MS: Record<DeletionSweep, number> = {
  'every-run': 0,
  daily: 24 * 3_600_000,
  weekly: 7 * 24 * 3_600_000,
  off: Infinity,
};

/**
 * "Cheap": at most this many requests, and at most {@link CHEAP_SWEEP_SECONDS} of the table's rate tier at its
 * steady (per-minute) limit, so a sweep adds a few requests and seconds to a refresh, shared budget included. That
 * holds for the Metadata tables of usual accounts (up to ~190 lists, segments or templates at 10 per page, ~1,400
 * campaigns over their six passes, ~400 flows at the S tier's 60/min), and never for a sizeable profiles or events
 * table: 100,000 profiles take 1,000 requests, 80 s of the L tier's 750/min.
 */
export const CHEAP_SWEEP_REQUESTS = 20;
export const CHEAP_SWEEP_SECONDS = 10;

/** Throws a clear error for anything but one of {@link DELETION_SWEEPS}. */
export function parseDeletionSweep(value: string): DeletionSweep {
  if ((DELETION_SWEEPS as readonly string[]).includes(value)) return value as DeletionSweep;
  throw new Error(`The deletion sweep must be one of ${DELETION_SWEEPS.join(', ')}, not "${value}".`);
}

/** Passes a complete listing of the table takes: one per channel (campaigns), doubled for archived rows. */
export function listingPasses(table: CatalogTable): number {
  const channels = table.requiredFilter?.kind === 'channel' ? table.requiredFilter.values.length : 1;
  return channels * (table.hiddenUnlessFiltered ? 2 : 1);
}

/** Requests a sweep of `rows` rows takes at most: full pages, plus each pass's last (partial or empty) page. */
export function sweepRequests(table: CatalogTable, rows: number): number {
  const pageSize = table.pageSize?.max ?? 1;
  return Math.floor(rows / pageSize) + listingPasses(table);
}

export function isCheapSweep(table: CatalogTable, rows: number): boolean {
  const requests = sweepRequests(table, rows);
  return requests <= CHEAP_SWEEP_REQUESTS && (requests * 60) / RATE_TIERS[table.tier].steady <= CHEAP_SWEEP_SECONDS;
}

/**
 * Whether a refresh of `table`, built on a version holding `rows` rows that was last swept at `lastSweptAt` (the
 * worker's clock: the cadence is wall time), sweeps it. Unknown rows or sweep time count as "not cheap" and "due".
 */
export function sweepDue(input: {
  table: CatalogTable;
  setting: DeletionSweep;
  rows: number | undefined;
  lastSweptAt: string | undefined;
  now: Date;
}): boolean {
  if (input.setting === 'off') return false;
  if (input.setting === 'every-run') return true;
  if (input.rows !== undefined && isCheapSweep(input.table, input.rows)) return true;
  const last = input.lastSweptAt === undefined ? NaN : Date.parse(input.lastSweptAt);
  return Number.isNaN(last) || input.now.getTime() - last >= CADENCE_MS[input.setting];
}
