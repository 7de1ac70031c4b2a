/** How long a run whose tables failed for good waits for `retry` or `discard` before it discards by itself. */
export const DEFAULT_NEEDS_ATTENTION_HOURS = 24;

/**
 * `DATAFLOW_NEEDS_ATTENTION_HOURS` (default 24; fractions allowed, e.g. 0.5). Read by the worker, so one
 * setting covers manual and scheduled runs alike; the workflow learns it from an activity's result.
 */
export function readNeedsAttentionHours(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.DATAFLOW_NEEDS_ATTENTION_HOURS?.trim();
  if (!value) return DEFAULT_NEEDS_ATTENTION_HOURS;
  const hours = Number(value);
  if (!Number.isFinite(hours) || hours <= 0) {
    throw new Error(
      `DATAFLOW_NEEDS_ATTENTION_HOURS must be a positive number of hours (e.g. 24 or 0.5), not "${value}".`,
    );
  }
  return hours;
}
