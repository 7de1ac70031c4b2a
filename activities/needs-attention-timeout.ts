import { readEnvNumber } from '../shared/env-number';

/** How long a run whose tables failed for good waits for `retry` or `discard` before it discards by itself. */
export const DEFAULT_NEEDS_ATTENTION_HOURS = 24;

/**
 * `DATAFLOW_NEEDS_ATTENTION_HOURS` (default 24; fractions allowed, e.g. 0.5). Read by the worker, so one
 * setting covers manual and scheduled runs alike; the workflow learns it from an activity's result.
 */
export function readNeedsAttentionHours(env: NodeJS.ProcessEnv = process.env): number {
  const rule = { min: 0, above: true, unit: 'hours' };
  return readEnvNumber(env, 'DATAFLOW_NEEDS_ATTENTION_HOURS', rule) ?? DEFAULT_NEEDS_ATTENTION_HOURS;
}
