import type { MetricMeter } from '@temporalio/common';

/**
 * What the activities count, for the worker's Prometheus endpoint. They go through the Temporal Runtime's meter, so
 * they are served next to the SDK's own metrics (task slots, latencies, workflow end-to-end latency = run durations)
 * on the one endpoint the Runtime exports, with the same global tags.
 */
export interface DataflowMetrics {
  /** An HTTP attempt to Klaviyo answered (or not: status 0). */
  request(info: { tier: string; status: number }): void;
  /** Time a request waited for the rate budget. */
  rateWait(info: { tier: string; ms: number }): void;
  /** Rows and pages committed into a staged version. */
  loaded(info: { table: string; tier: string; rows: number; pages: number }): void;
  /** One table's extraction ended (a summary returned, or a failure). */
  tableExtracted(info: { table: string; tier: string; seconds: number; outcome: 'completed' | 'failed' }): void;
}

export const NO_METRICS: DataflowMetrics = {
  request: () => undefined,
  rateWait: () => undefined,
  loaded: () => undefined,
  tableExtracted: () => undefined,
};

/** Metric names as Prometheus shows them: the Runtime adds no prefix and (by default) no `_total` suffix to counters. */
export const METRIC_NAMES = {
  requests: 'dataflow_klaviyo_requests',
  throttled: 'dataflow_klaviyo_throttled',
  rateWait: 'dataflow_rate_budget_wait',
  rows: 'dataflow_rows_loaded',
  pages: 'dataflow_pages_loaded',
  tableSeconds: 'dataflow_table_extract_duration',
} as const;

export function dataflowMetrics(meter: MetricMeter): DataflowMetrics {
  const counter = (name: string, help: string) => meter.createCounter(name, '', help);
  const histogram = (name: string, unit: string, help: string) => meter.createHistogram(name, 'float', unit, help);
  const requests = counter(METRIC_NAMES.requests, 'HTTP attempts to Klaviyo, by rate tier and status');
  const throttled = counter(METRIC_NAMES.throttled, 'Klaviyo answers 429, by rate tier');
  const rateWait = histogram(
    METRIC_NAMES.rateWait,
    'ms',
    'Time a request waited for the shared rate budget, by rate tier',
  );
  const rows = counter(METRIC_NAMES.rows, 'Rows committed into staged versions, by table and rate tier');
  const pages = counter(METRIC_NAMES.pages, 'Pages committed into staged versions, by table and tier');
  const tableSeconds = histogram(
    METRIC_NAMES.tableSeconds,
    's',
    'One extractTable attempt, start to end, by table and outcome',
  );
  return {
    request({ tier, status }) {
      requests.add(1, { tier, status: String(status) });
      if (status === 429) throttled.add(1, { tier });
    },
    rateWait({ tier, ms }) {
      rateWait.record(ms, { tier });
    },
    loaded({ table, tier, rows: rowCount, pages: pageCount }) {
      if (rowCount > 0) rows.add(rowCount, { table, tier });
      if (pageCount > 0) pages.add(pageCount, { table, tier });
    },
    tableExtracted({ table, tier, seconds, outcome }) {
      tableSeconds.record(seconds, { table, tier, outcome });
    },
  };
}
