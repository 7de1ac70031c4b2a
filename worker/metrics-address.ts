/**
 * `DATAFLOW_METRICS_ADDRESS`: where the worker serves Prometheus metrics (`host:port`, e.g. `0.0.0.0:9464`); unset
 * serves none. One endpoint per worker process: the Temporal Runtime's exporter, which carries the SDK's metrics and
 * the dataflow counters (activities/dataflow-metrics.ts).
 */
export function readMetricsAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.DATAFLOW_METRICS_ADDRESS?.trim();
  if (!value) return undefined;
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) {
    throw new Error(`DATAFLOW_METRICS_ADDRESS must be host:port, such as 0.0.0.0:9464, not "${value}".`);
  }
  return value;
}
