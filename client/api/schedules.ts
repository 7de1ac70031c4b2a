/** A dataflow's schedule: kept in Temporal, its spec mirrored in the control plane for the list. */
import { getDataflow, updateDataflow } from '../../control-plane/dataflows';
import {
  deleteSchedule as deleteTemporalSchedule,
  describeSchedule,
  pauseSchedule as pauseTemporalSchedule,
  setSchedule,
  type ScheduleSpecInput,
  type ScheduleView,
} from '../../shared/schedules';
import type { ApiContext } from './context';

export async function schedule(ctx: ApiContext, name: string, spec: ScheduleSpecInput): Promise<ScheduleView> {
  const dataflow = await getDataflow(ctx.pool, name);
  const view = await setSchedule(ctx.temporal, dataflow.name, spec);
  await updateDataflow(ctx.pool, ctx.secrets, dataflow.name, { schedule: view.spec });
  return view;
}

/** The dataflow's schedule as Temporal has it now, or null. */
export async function scheduleOf(ctx: ApiContext, name: string): Promise<ScheduleView | null> {
  const dataflow = await getDataflow(ctx.pool, name);
  return describeSchedule(ctx.temporal, dataflow.name);
}

export async function pauseSchedule(ctx: ApiContext, name: string, pause: boolean): Promise<void> {
  const dataflow = await getDataflow(ctx.pool, name);
  await pauseTemporalSchedule(ctx.temporal, dataflow.name, pause);
}

export async function deleteSchedule(ctx: ApiContext, name: string): Promise<boolean> {
  const dataflow = await getDataflow(ctx.pool, name);
  const deleted = await deleteTemporalSchedule(ctx.temporal, dataflow.name);
  await updateDataflow(ctx.pool, ctx.secrets, dataflow.name, { schedule: null });
  return deleted;
}
