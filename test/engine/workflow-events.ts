import type { Client } from '@temporalio/client';

/** How one activity type fared in a workflow execution, read from Temporal's event history. */
export interface ActivityRecord {
  /** ActivityTaskScheduled events: one per activity call, whatever its retries. */
  scheduled: number;
  /** The attempt numbers of its ActivityTaskStarted events (written when an activity call ends, with its last attempt). */
  attempts: number[];
  /** Messages of its ActivityTaskFailed events. */
  failures: string[];
}

/** The history of one execution, summarised per activity type. */
export async function activityRecords(
  temporal: Client,
  workflowId: string,
  runId: string,
): Promise<Map<string, ActivityRecord>> {
  const history = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  const typeByScheduledId = new Map<string, string>();
  const records = new Map<string, ActivityRecord>();
  const recordOf = (type: string) => {
    let record = records.get(type);
    if (!record) records.set(type, (record = { scheduled: 0, attempts: [], failures: [] }));
    return record;
  };
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? '';
      typeByScheduledId.set(String(event.eventId), type);
      recordOf(type).scheduled += 1;
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      recordOf(typeByScheduledId.get(String(started.scheduledEventId)) ?? '').attempts.push(started.attempt ?? 0);
    }
    const failed = event.activityTaskFailedEventAttributes;
    if (failed) {
      recordOf(typeByScheduledId.get(String(failed.scheduledEventId)) ?? '').failures.push(
        failed.failure?.message ?? '',
      );
    }
  }
  return records;
}

/** The id of the first WorkflowTaskCompleted event: where the Web UI's "Reset → first workflow task" points. */
export async function firstWorkflowTaskCompletedEventId(temporal: Client, workflowId: string, runId: string) {
  const history = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  const eventId = (history.events ?? []).find((e) => e.workflowTaskCompletedEventAttributes)?.eventId;
  if (!eventId) throw new Error(`No completed workflow task in ${workflowId}/${runId}.`);
  return eventId;
}
