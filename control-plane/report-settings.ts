import { CONTROL_TABLES } from './control-schema';
import { dataflowErrorOf, DataflowNotFoundError } from './errors';
import type { Queryable } from './postgres';

/**
 * A dataflow's Reporting API settings: which metric campaign and flow reports count as conversions (a metric id or
 * name; null: the account's metric named {@link DEFAULT_CONVERSION_METRIC}), and how many days of attribution a
 * refresh re-reads (Klaviyo attributes conversions for 5 days after a send by default, up to 90 with custom windows).
 */
export interface ReportSettings {
  conversionMetric: string | null;
  attributionWindowDays: number;
}

export const DEFAULT_CONVERSION_METRIC = 'Placed Order';
export const DEFAULT_ATTRIBUTION_WINDOW_DAYS = 5;
export const MAX_ATTRIBUTION_WINDOW_DAYS = 90;

/** No metric matches the conversion-metric setting: the user picks one. */
export class ConversionMetricNotFoundError extends dataflowErrorOf('ConversionMetricNotFound') {}

/** A setting out of range, in words the user can act on. */
export class InvalidReportSettingError extends dataflowErrorOf('InvalidReportSetting') {}

export async function getReportSettings(db: Queryable, dataflowId: string): Promise<ReportSettings> {
  const { rows } = await db.query<{ conversion_metric: string | null; attribution_window_days: number }>(
    `SELECT conversion_metric, attribution_window_days FROM ${CONTROL_TABLES.dataflows} WHERE id = $1`,
    [dataflowId],
  );
  if (rows.length === 0) throw new DataflowNotFoundError(dataflowId, 'id');
  return { conversionMetric: rows[0].conversion_metric, attributionWindowDays: rows[0].attribution_window_days };
}

/** Checks a new value of each setting given; throws InvalidReportSettingError with what is allowed. */
export function checkReportSettings(input: Partial<ReportSettings>): Partial<ReportSettings> {
  const days = input.attributionWindowDays;
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > MAX_ATTRIBUTION_WINDOW_DAYS)) {
    throw new InvalidReportSettingError(
      `The attribution window must be a whole number of days from 1 to ${MAX_ATTRIBUTION_WINDOW_DAYS}, not ${days}.`,
    );
  }
  const metric = input.conversionMetric;
  if (metric !== undefined && metric !== null && (metric.trim() === '' || metric.length > 200)) {
    throw new InvalidReportSettingError('The conversion metric must be a metric id or name of 1 to 200 characters.');
  }
  return { ...input, ...(metric ? { conversionMetric: metric.trim() } : {}) };
}

export async function setReportSettings(
  db: Queryable,
  dataflowId: string,
  input: Partial<ReportSettings>,
): Promise<void> {
  const checked = checkReportSettings(input);
  if (checked.conversionMetric !== undefined) {
    await db.query(`UPDATE ${CONTROL_TABLES.dataflows} SET conversion_metric = $2 WHERE id = $1`, [
      dataflowId,
      checked.conversionMetric,
    ]);
  }
  if (checked.attributionWindowDays !== undefined) {
    await db.query(`UPDATE ${CONTROL_TABLES.dataflows} SET attribution_window_days = $2 WHERE id = $1`, [
      dataflowId,
      checked.attributionWindowDays,
    ]);
  }
}
