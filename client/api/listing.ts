/** What a dataflow is and holds: the list with schedules, its tables and fields, its warehouse entities and rows. */
import { findTable } from '../../klaviyo/catalog';
import { warehouseSchemaName } from '../../control-plane/dataflow-name';
import { getTables } from '../../control-plane/dataflow-tables';
import { getDataflow, listDataflows, type Dataflow } from '../../control-plane/dataflows';
import type { DataflowTable } from '../../control-plane/table-selection';
import {
  entities as warehouseEntities,
  previewEntity,
  type Entity,
  type EntityPreview,
} from '../../warehouse/entities';
import { describeSchedule } from '../../shared/schedules';
import { UserInputError } from '../../shared/user-input-error';
import type { ApiContext } from './context';

export interface DataflowListRow extends Dataflow {
  nextRun: Date | null;
  scheduleSpec: string | null;
  schedulePaused: boolean;
}

export interface TableRow {
  purpose: string;
  name: string;
  type: string;
  selected: boolean;
  fieldsSelected: number;
  fieldsTotal: number;
  /** Whether the dataflow's key can read the table, as recorded when the key was last validated. */
  readable: boolean;
  /** The scopes the key lacks for this table (empty when readable), e.g. `['profiles:read']`. */
  missingScopes: string[];
  /** The fields imported (empty when the table is not selected). */
  selectedFields: string[];
  availableFields: Array<{ name: string; type: string }>;
}

export async function get(ctx: ApiContext, name: string): Promise<Dataflow> {
  return getDataflow(ctx.pool, name);
}

export async function tables(ctx: ApiContext, name: string): Promise<TableRow[]> {
  const dataflow = await getDataflow(ctx.pool, name);
  return (await getTables(ctx.pool, dataflow.id)).map((t: DataflowTable) => ({
    purpose: t.purpose,
    name: t.table,
    type: findTable(t.table)?.resourceType ?? '',
    selected: t.selected,
    fieldsSelected: t.selected ? t.selectedFields.length : 0,
    fieldsTotal: t.availableFields.length,
    readable: (t.missingScopes ?? []).length === 0,
    missingScopes: t.missingScopes ?? [],
    selectedFields: t.selected ? t.selectedFields : [],
    availableFields: t.availableFields.map((f) => ({ name: f.name, type: f.type })),
  }));
}

export async function list(ctx: ApiContext): Promise<DataflowListRow[]> {
  const dataflows = await listDataflows(ctx.pool);
  return Promise.all(
    dataflows.map(async (d) => {
      const schedule = await describeSchedule(ctx.temporal, d.name);
      return {
        ...d,
        nextRun: schedule && !schedule.paused ? schedule.nextRun : null,
        scheduleSpec: schedule?.spec ?? null,
        schedulePaused: schedule?.paused ?? false,
      };
    }),
  );
}

export async function entities(ctx: ApiContext, name: string): Promise<Entity[]> {
  const dataflow = await getDataflow(ctx.pool, name);
  return warehouseEntities(ctx.pool, warehouseSchemaName(dataflow.name));
}

/** The first rows (default 50) of one of the dataflow's tables, from the version readers see now. */
export async function preview(ctx: ApiContext, name: string, table: string, limit = 50): Promise<EntityPreview> {
  const dataflow = await getDataflow(ctx.pool, name);
  const preview = await previewEntity(ctx.pool, warehouseSchemaName(dataflow.name), table, limit);
  if (!preview) {
    throw new UserInputError(
      `Dataflow "${dataflow.name}" has no committed table "${table}": run it first, or pick one of its entities.`,
      'EntityNotFound',
    );
  }
  return preview;
}
