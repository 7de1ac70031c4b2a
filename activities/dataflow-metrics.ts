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

/**
 * The metrics, each with its name as Prometheus shows it (the Runtime adds no prefix and, by default, no `_total`
 * suffix to counters) and its help text.
 */
const METRICS = {
  requests: { name: 'dataflow_klaviyo_requests', help: 'HTTP attempts to Klaviyo, by rate tier and status' },
  throttled: { name: 'dataflow_klaviyo_throttled', help: 'Klaviyo answers 429, by rate tier' },
  rateWait: {
    name: 'dataflow_rate_budget_wait',
    help: 'Time a request waited for the shared rate budget, by rate tier',
  },
  rows: { name: 'dataflow_rows_loaded', help: 'Rows committed into staged versions, by table and rate tier' },
  pages: { name: 'dataflow_pages_loaded', help: 'Pages committed into staged versions, by table and tier' },
  tableSeconds: {
    name: 'dataflow_table_extract_duration',
    help: 'One extractTable attempt, start to end, by table and outcome',
  },
} as const;
type MetricKey = keyof typeof METRICS;

/** Metric names as Prometheus shows them. */
export const METRIC_NAMES = Object.fromEntries(Object.entries(METRICS).map(([key, m]) => [key, m.name])) as {
  [K in MetricKey]: (typeof METRICS)[K]['name'];
};

export function dataflowMetrics(meter: MetricMeter): DataflowMetrics {
  const counter = (key: MetricKey) => meter.createCounter(METRICS[key].name, '', METRICS[key].help);
  const histogram = (key: MetricKey, unit: string) =>
    meter.createHistogram(METRICS[key].name, 'float', unit, METRICS[key].help);
  const requests = counter('requests');
  const throttled = counter('throttled');
  const rateWait = histogram('rateWait', 'ms');
  const rows = counter('rows');
  const pages = counter('pages');
  const tableSeconds = histogram('tableSeconds', 's');
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
