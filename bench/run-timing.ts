import { performance } from 'node:perf_hooks';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { DataflowApi } from '../client/dataflow-api';
import type { RunResult } from '../shared/operations';

/** A run timed from the caller's side, with each table's extraction timed from the workflow history. */
export interface TimedRun {
  result: RunResult;
  /** From starting the workflow to its result. */
  seconds: number;
  /** Per table: from its extractTable activity being scheduled to its completion. */
  tableSeconds: Record<string, number>;
}

export async function timedRun(api: DataflowApi, name: string): Promise<TimedRun> {
  const started = performance.now();
  const operation = await api.run(name);
  const result = await api.waitForRun(operation);
  const seconds = (performance.now() - started) / 1000;
  const history = await api.temporal.workflow.getHandle(operation.workflowId, operation.runId).fetchHistory();
  const scheduled = new Map<string, { table: string; at: number }>();
  const tableSeconds: Record<string, number> = {};
  for (const event of history.events ?? []) {
    const at = tsToMs(event.eventTime);
    const attributes = event.activityTaskScheduledEventAttributes;
    if (attributes?.activityType?.name === 'extractTable') {
      const payload = attributes.input?.payloads?.[0];
      const input = payload ? defaultPayloadConverter.fromPayload<{ table?: string }>(payload) : undefined;
      if (input?.table) scheduled.set(String(event.eventId), { table: input.table, at });
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const entry = completed ? scheduled.get(String(completed.scheduledEventId)) : undefined;
    if (entry) tableSeconds[entry.table] = (at - entry.at) / 1000;
  }
  return { result, seconds, tableSeconds };
}
