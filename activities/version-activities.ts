import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES, type TableSummary, type Trigger } from '../shared/operations';
import { getTable } from '../klaviyo/catalog';
import { sweepDue } from '../klaviyo/deletion-sweep';
import { warehouseSchemaName } from '../control-plane/dataflow-name';
import { getTables } from '../control-plane/dataflow-tables';
import { getDataflowById, setDataflowStatus } from '../control-plane/dataflows';
import { getReportSettings } from '../control-plane/report-settings';
import { allocateVersion, getVersion } from '../control-plane/versions';
import { createVersionTables } from '../warehouse/staged-tables';
import {
  commitVersion as commitWarehouseVersion,
  discardVersion as discardWarehouseVersion,
  rollbackToPrevious,
} from '../warehouse/versioned-tables';
import { failuresAsApplicationFailures, type ActivityContext } from './activity-context';
import { isReportTable } from './extract-report';
import { selectedLayout } from './extract-table';
import { planIncremental, type IncrementalPlan } from './incremental-cursor';
import { planReportRefresh } from './report-refresh';

/** The activities that open, commit, discard and roll back a version of the dataflow's tables. */
export function createVersionActivities({ pool, incrementalOptions }: ActivityContext) {
  /** The dataflow's id and the warehouse schema its versions live in. */
  async function warehouseOf(dataflowId: string): Promise<{ dataflowId: string; schema: string }> {
    const dataflow = await getDataflowById(pool, dataflowId);
    return { dataflowId: dataflow.id, schema: warehouseSchemaName(dataflow.name) };
  }

  return {
    /** Resolves the saved selection against the catalog; what changed is reported, not dropped silently. */
    async discoverTables(input: { dataflowId: string }): Promise<{ tables: string[]; notices: string[] }> {
      return failuresAsApplicationFailures(async () => {
        const saved = await getTables(pool, input.dataflowId);
        const notices: string[] = [];
        for (const selection of saved.filter((t) => t.selected)) {
          const now = new Set(getTable(selection.table).fields.map((f) => f.name));
          const before = new Set(selection.availableFields.map((f) => f.name));
          const gone = selection.selectedFields.filter((f) => !now.has(f));
          const added = [...now].filter((f) => !before.has(f));
          if (gone.length) notices.push(`${selection.table}: Klaviyo no longer offers ${gone.join(', ')}`);
          if (added.length)
            notices.push(`${selection.table}: new fields available (not selected): ${added.join(', ')}`);
        }
        const tables = saved.filter((t) => t.selected).map((t) => t.table);
        if (tables.length === 0) {
          throw ApplicationFailure.create({
            type: FAILURE_TYPES.InvalidSelection,
            nonRetryable: true,
            message: 'No table is selected: select at least one with `dataflow edit <name> --tables …`.',
          });
        }
        return { tables, notices };
      });
    },

    /**
     * Allocates version N and creates its tables out of readers' sight, and plans how each table is read:
     * incrementally on top of the committed version readers see, unless `full`, or the table has no change
     * cursor, or its layout changed (then in full, with a notice). Idempotent per workflow run.
     */
    async beginVersion(input: {
      dataflowId: string;
      workflowId: string;
      runId: string;
      trigger: Trigger;
      tables: string[];
      full: boolean;
    }): Promise<{ version: number; incremental: Record<string, IncrementalPlan>; notices: string[] }> {
      return failuresAsApplicationFailures(async () => {
        const dataflow = await getDataflowById(pool, input.dataflowId);
        const selections = (await getTables(pool, dataflow.id)).filter((t) => input.tables.includes(t.table));
        const { version } = await allocateVersion(pool, {
          dataflowId: dataflow.id,
          workflowId: input.workflowId,
          runId: input.runId,
          trigger: input.trigger,
          tables: input.tables,
        });
        const schema = warehouseSchemaName(dataflow.name);
        const incremental: Record<string, IncrementalPlan> = {};
        const notices: string[] = [];
        const base =
          dataflow.currentVersion === null ? undefined : await getVersion(pool, dataflow.id, dataflow.currentVersion);
        const now = new Date();
        for (const selection of selections) {
          const table = getTable(selection.table);
          if (isReportTable(table.name)) {
            // A report table is refreshed by its attribution window, not by a change cursor (report-refresh.ts).
            const report = await planReportRefresh(pool, {
              schema,
              layout: selectedLayout(selection),
              base: dataflow.currentVersion,
              full: input.full,
              settings: await getReportSettings(pool, dataflow.id),
              now,
            });
            if (report.notice) notices.push(report.notice);
            if (report.plan) incremental[selection.table] = report.plan;
            continue;
          }
          const baseRead = base?.reads[selection.table];
          const decision = await planIncremental(pool, {
            schema,
            table,
            layout: selectedLayout(selection),
            base: dataflow.currentVersion,
            full: input.full,
            options: incrementalOptions,
            baseRead,
          });
          if (decision.notice) notices.push(decision.notice);
          if (!decision.plan) continue;
          const lastSweptAt = baseRead?.sweptAt ?? undefined;
          const deletionSweep = sweepDue({
            table,
            setting: dataflow.deletionSweep,
            rows: base?.rows[selection.table],
            lastSweptAt,
            now,
          });
          incremental[selection.table] = { ...decision.plan, deletionSweep, lastSweptAt: lastSweptAt ?? null };
        }
        // A table read in full gets its primary key once loaded (cheaper); one read incrementally needs it
        // from the start, since changed rows replace rows of the same key.
        await createVersionTables(pool, {
          dataflowId: dataflow.id,
          schema,
          version,
          tables: selections.map(selectedLayout),
          keyAfterLoad: selections.map((s) => s.table).filter((table) => !incremental[table]),
        });
        await setDataflowStatus(pool, dataflow.id, 'Running');
        return { version, incremental, notices };
      });
    },

    /** Switches every table to version N in one transaction; old versions beyond 3 are dropped. */
    async commitVersion(input: { dataflowId: string; version: number; tables: TableSummary[] }): Promise<void> {
      await failuresAsApplicationFailures(async () => {
        const warehouse = await warehouseOf(input.dataflowId);
        await commitWarehouseVersion(pool, {
          ...warehouse,
          version: input.version,
          tables: input.tables.map((t) => ({ table: t.table, rows: t.rows })),
        });
        await setDataflowStatus(pool, warehouse.dataflowId, 'Succeeded');
      });
    },

    /** Drops a staged version after a failure or cancellation; the live version is never touched. */
    async discardVersion(input: { dataflowId: string; version: number }): Promise<void> {
      await failuresAsApplicationFailures(async () => {
        await discardWarehouseVersion(pool, { ...(await warehouseOf(input.dataflowId)), version: input.version });
      });
    },

    async rollbackVersion(input: {
      dataflowId: string;
      requestId: string;
    }): Promise<{ fromVersion: number; toVersion: number }> {
      return failuresAsApplicationFailures(async () => {
        const outcome = await rollbackToPrevious(pool, {
          ...(await warehouseOf(input.dataflowId)),
          requestId: input.requestId,
        });
        return { fromVersion: outcome.fromVersion, toVersion: outcome.toVersion };
      });
    },
  };
}
