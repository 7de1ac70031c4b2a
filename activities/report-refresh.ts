import type { Queryable } from '../control-plane/postgres';
import type { ReportSettings } from '../control-plane/report-settings';
import type { IncrementalPlan } from './incremental-cursor';
import { ATTRIBUTION_MARGIN_DAYS } from './extract-report';
import { qualifiedName, versionedTableName } from '../warehouse/identifiers';
import type { TableLayout } from '../warehouse/table-layout';

/**
 * Whether a Reporting API table is refreshed from committed version `base` (only what Klaviyo can still change: the
 * attribution window plus a margin, see extract-report.ts) or read in full: in full when asked, when there is no
 * base, or when the base's table has other columns (a statistic selected or deselected since), with a notice then.
 * `since` is the start of the window re-read, as an instant; the read turns it into the account's days.
 */
export async function planReportRefresh(
  db: Queryable,
  input: {
    schema: string;
    layout: TableLayout;
    base: number | null;
    full: boolean;
    settings: ReportSettings;
    now: Date;
  },
): Promise<{ plan: IncrementalPlan | null; notice?: string }> {
  const { layout, base } = input;
  if (input.full || base === null) return { plan: null };
  const { rows } = await db.query<{ columns: string[] | null }>(
    `SELECT (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attname)
               FROM pg_attribute a
              WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attname NOT IN ('_version', '_extracted_at')) AS columns`,
    [qualifiedName(input.schema, versionedTableName(layout.table, base))],
  );
  const columns = rows[0]?.columns;
  if (!columns) return { plan: null };
  const have = columns.map((c) => c.replace(/ timestamp with time zone$/, ' timestamptz')).sort();
  const wanted = layout.columns.map((c) => `${c.name} ${c.type}`).sort();
  if (have.join(',') !== wanted.join(',')) {
    return {
      plan: null,
      notice: `${layout.table}: read in full, because its selected statistics changed since version ${base}`,
    };
  }
  const days = input.settings.attributionWindowDays + ATTRIBUTION_MARGIN_DAYS;
  const since = new Date(input.now.getTime() - days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { plan: { fromVersion: base, since } };
}
