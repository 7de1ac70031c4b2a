import {
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  ScheduleNotFoundError,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { TASK_QUEUE } from './config';
import { operationWorkflowId, scheduleId, type RunInput } from './operations';
import { DataflowNameKey, DataflowOperationKey, DataflowTriggerKey } from './search-attributes';
import { UserInputError } from './user-input-error';

export type ScheduleSpecInput = { cron: string } | { every: string };

export interface ScheduleView {
  spec: string;
  paused: boolean;
  nextRun: Date | null;
}

/** `6h`, `30m`, `1d`, `90s`, `2h30m` — validated here so a typo never reaches the server as a surprise. */
const INTERVAL = /^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/;

function toSpec(input: ScheduleSpecInput) {
  if ('cron' in input) {
    const fields = input.cron.trim().split(/\s+/);
    if (!input.cron.trim().startsWith('@') && (fields.length < 5 || fields.length > 7)) {
      throw new UserInputError(
        `Invalid cron expression "${input.cron}": expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}.`,
      );
    }
    return { cronExpressions: [input.cron.trim()] };
  }
  const every = input.every.trim();
  if (!every || !INTERVAL.test(every)) {
    throw new UserInputError(`Invalid interval "${input.every}": use a number with a unit, e.g. 30m, 6h, 1d or 1h30m.`);
  }
  const ms = parseInterval(every);
  if (ms < 1000) throw new UserInputError(`Invalid interval "${input.every}": it must be at least one second.`);
  return { intervals: [{ every: ms }] };
}

function parseInterval(every: string): number {
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
  let total = 0;
  for (const [, n, u] of every.matchAll(/(\d+)([dhms])/g)) total += Number(n) * unit[u as keyof typeof unit];
  return total;
}

function describeSpec(input: ScheduleSpecInput): string {
  return 'cron' in input ? `cron ${input.cron.trim()}` : `every ${input.every.trim()}`;
}

/** Milliseconds as the shortest interval text that `--every` accepts, e.g. 5_400_000 → `1h30m`. */
export function formatInterval(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / seconds);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * seconds;
  }
  return parts.join('') || '0s';
}

/**
 * One Temporal Schedule per dataflow, overlap policy skip: a refresh never queues behind a slow one.
 * Creating again replaces the spec.
 */
export async function setSchedule(temporal: Client, dataflow: string, input: ScheduleSpecInput): Promise<ScheduleView> {
  const spec = toSpec(input);
  const id = scheduleId(dataflow);
  const args: [RunInput] = [{ dataflow, trigger: 'schedule' }];
  const startAction = {
    type: 'startWorkflow' as const,
    workflowType: 'runDataflow',
    taskQueue: TASK_QUEUE,
    workflowId: operationWorkflowId(dataflow),
    args,
    typedSearchAttributes: [
      { key: DataflowNameKey, value: dataflow.toLowerCase() },
      { key: DataflowOperationKey, value: 'run' },
      { key: DataflowTriggerKey, value: 'schedule' },
    ],
  };
  // A schedule's own memo cannot be updated, the action's can: the current words travel with the action.
  const memo = { spec: describeSpec(input) };
  const action = { ...startAction, memo };
  if (spec.cronExpressions)
    await refuseIfNeverFires(temporal, id, { cronExpressions: spec.cronExpressions }, action, input);
  try {
    const handle = temporal.schedule.getHandle(id);
    await handle.describe();
    await handle.update((previous) => ({ ...previous, spec, action }));
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw wrapScheduleError(err, input);
    try {
      await temporal.schedule.create({
        scheduleId: id,
        spec,
        action,
        memo,
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      });
    } catch (createErr) {
      throw wrapScheduleError(createErr, input);
    }
  }
  return (await describeSchedule(temporal, dataflow)) as ScheduleView;
}

/** A schedule whose first run is further away than this is refused as one that never runs. */
const NEVER_WITHIN_YEARS = 5;

/**
 * Refuses a cron that matches no time (`0 0 31 2 *`: February has no 31st) or none within 5 years, before the
 * dataflow's schedule is touched. Temporal alone knows what its cron matches, so it is asked through a paused copy
 * under another id (paused schedules are still given their next times), deleted at once: nothing is left changed.
 */
async function refuseIfNeverFires(
  temporal: Client,
  id: string,
  spec: { cronExpressions: string[] },
  action: Parameters<Client['schedule']['create']>[0]['action'],
  input: ScheduleSpecInput,
): Promise<void> {
  const probeId = `${id}-check-${randomUUID()}`;
  let next: Date | undefined;
  try {
    const probe = await temporal.schedule.create({ scheduleId: probeId, spec, action, state: { paused: true } });
    try {
      next = (await probe.describe()).info.nextActionTimes[0];
    } finally {
      await probe.delete().catch(() => undefined);
    }
  } catch (err) {
    throw wrapScheduleError(err, input);
  }
  const horizon = new Date();
  horizon.setUTCFullYear(horizon.getUTCFullYear() + NEVER_WITHIN_YEARS);
  if (next === undefined || next > horizon) {
    throw new UserInputError(
      `Invalid schedule "${describeSpec(input)}": it would never run (${next === undefined ? 'no date matches it' : `not before ${next.toISOString().slice(0, 10)}`}). ` +
        'Check the day-of-month, month and day-of-week fields (February has no 30th or 31st; April, June, September ' +
        'and November have no 31st). Nothing was changed.',
      'InvalidSchedule',
    );
  }
}

function wrapScheduleError(err: unknown, input: ScheduleSpecInput): Error {
  const message = err instanceof Error ? err.message : String(err);
  // The SDK turns the server's "Invalid schedule spec" (e.g. "Minute is not in range [0-59]") into a TypeError.
  if (err instanceof TypeError || /invalid|parse|cron/i.test(message)) {
    return new UserInputError(`Invalid schedule "${describeSpec(input)}": ${message}`);
  }
  return err instanceof Error ? err : new Error(message);
}

export async function describeSchedule(temporal: Client, dataflow: string): Promise<ScheduleView | null> {
  try {
    const description = await temporal.schedule.getHandle(scheduleId(dataflow)).describe();
    return {
      spec: liveSpecText(description),
      paused: description.state.paused,
      nextRun: description.info.nextActionTimes[0] ?? null,
    };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return null;
    throw err;
  }
}

/**
 * How the schedule reads now: the words set with the current action, else what its interval spec says,
 * else the memo given at creation (older schedules; it is never updated), else `custom`.
 */
function liveSpecText(description: ScheduleDescription): string {
  const action = description.action;
  const fromAction = action.type === 'startWorkflow' ? action.memo?.spec : undefined;
  if (typeof fromAction === 'string') return fromAction;
  const { intervals = [], calendars = [] } = description.spec;
  if (intervals.length === 1 && calendars.length === 0 && !intervals[0].offset) {
    return `every ${formatInterval(intervals[0].every)}`;
  }
  return typeof description.memo?.spec === 'string' ? description.memo.spec : 'custom';
}

export async function pauseSchedule(temporal: Client, dataflow: string, pause: boolean): Promise<void> {
  const handle = temporal.schedule.getHandle(scheduleId(dataflow));
  try {
    if (pause) await handle.pause('paused from the dataflow CLI');
    else await handle.unpause('resumed from the dataflow CLI');
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      throw new UserInputError(
        `Dataflow "${dataflow}" has no schedule. Set one with: dataflow schedule ${dataflow} --every 6h`,
      );
    }
    throw err;
  }
}

/** Deletes the dataflow's schedule; true when there was one. */
export async function deleteSchedule(temporal: Client, dataflow: string): Promise<boolean> {
  try {
    await temporal.schedule.getHandle(scheduleId(dataflow)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}
