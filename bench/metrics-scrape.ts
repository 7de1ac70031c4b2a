import { METRIC_NAMES } from '../activities/dataflow-metrics';

/**
 * The bench's reading of the workers' Prometheus endpoints (DATAFLOW_METRICS_ADDRESS): one scrape per worker at the
 * end of a section, summed over the workers, as a few printed lines.
 */

/** One sample of the text exposition format: `name{label="value",...} number`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of `name`'s samples whose labels include `labels`. */
export function metricSum(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The values a label takes among `name`'s samples. */
function labelValues(samples: readonly Sample[], name: string, label: string): string[] {
  return [...new Set(samples.filter((s) => s.name === name && s.labels[label]).map((s) => s.labels[label]))].sort();
}

/** Scrapes every endpoint (`http://host:port/metrics`); a worker that answers nothing fails the section. */
export async function scrapeMetrics(urls: readonly string[]): Promise<Sample[]> {
  const texts = await Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`The worker's metrics endpoint ${url} answered ${response.status}`);
      return response.text();
    }),
  );
  return texts.flatMap(parseMetrics);
}

/** What the bench prints: requests and 429s, rows and pages, budget waits per tier; extraction and run durations. */
export interface MetricsSummary {
  endpoints: number;
  tiers: {
    tier: string;
    requests: number;
    throttled: number;
    rows: number;
    pages: number;
    waits: number;
    waitMs: number;
  }[];
  extractions: { count: number; seconds: number };
  runs: { count: number; ms: number };
  /** The SDK's own metrics were there (temporal_*). */
  sdkMetrics: boolean;
}

export function summarizeMetrics(samples: readonly Sample[], endpoints: number): MetricsSummary {
  const tiers = [
    ...new Set([
      ...labelValues(samples, METRIC_NAMES.requests, 'tier'),
      ...labelValues(samples, METRIC_NAMES.rows, 'tier'),
    ]),
  ];
  return {
    endpoints,
    tiers: tiers.map((tier) => ({
      tier,
      requests: metricSum(samples, METRIC_NAMES.requests, { tier }),
      throttled: metricSum(samples, METRIC_NAMES.throttled, { tier }),
      rows: metricSum(samples, METRIC_NAMES.rows, { tier }),
      pages: metricSum(samples, METRIC_NAMES.pages, { tier }),
      waits: metricSum(samples, `${METRIC_NAMES.rateWait}_count`, { tier }),
      waitMs: metricSum(samples, `${METRIC_NAMES.rateWait}_sum`, { tier }),
    })),
    extractions: {
      count: metricSum(samples, `${METRIC_NAMES.tableSeconds}_count`),
      seconds: metricSum(samples, `${METRIC_NAMES.tableSeconds}_sum`),
    },
    runs: {
      count: metricSum(samples, 'temporal_workflow_endtoend_latency_count', { workflow_type: 'runDataflow' }),
      ms: metricSum(samples, 'temporal_workflow_endtoend_latency_sum', { workflow_type: 'runDataflow' }),
    },
    sdkMetrics: samples.some((s) => s.name.startsWith('temporal_')),
  };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** A few lines, starting `METRICS`, that the bench smoke test looks for. */
export function formatMetrics(summary: MetricsSummary): string {
  return [
    `METRICS scraped from ${summary.endpoints} worker endpoint(s) at the end of the section (SDK metrics ${summary.sdkMetrics ? 'present' : 'MISSING'}):`,
    ...summary.tiers.map(
      (t) =>
        `  tier ${t.tier}: requests ${int(t.requests)}, 429s ${int(t.throttled)}, rows ${int(t.rows)}, pages ${int(t.pages)}, ` +
        `budget waits ${int(t.waits)} (${(t.waitMs / 1000).toFixed(1)} s in all)`,
    ),
    `  extractions ${int(summary.extractions.count)} (${summary.extractions.seconds.toFixed(1)} s in all); ` +
      `runs ${int(summary.runs.count)} (${(summary.runs.ms / 1000).toFixed(1)} s in all)`,
  ].join('\n');
}
