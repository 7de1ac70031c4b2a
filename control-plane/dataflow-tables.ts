import type pg from 'pg';
import { z } from 'zod';
import { CATALOG, type CatalogField, type Purpose } from '../klaviyo/catalog';
import { CONTROL_TABLES } from './control-schema';
import { checkUuid, parseInput, tableSelectionSchema } from './dataflow-input';
import { DataflowNotFoundError } from './errors';
import { withTransaction, type Queryable } from './postgres';
import { resolveSelection, type DataflowTable, type TableSelectionInput } from './table-selection';

/** The saved table selection of a dataflow, in catalog order. */
export async function getTables(db: Queryable, dataflowId: string): Promise<DataflowTable[]> {
  const { rows } = await db.query<{
    table_name: string;
    purpose: Purpose;
    selected: boolean;
    selected_fields: string[];
    available_fields: CatalogField[];
    missing_scopes: string[] | null;
  }>(
    `SELECT table_name, purpose, selected, selected_fields, available_fields, missing_scopes
     FROM ${CONTROL_TABLES.dataflowTables} WHERE dataflow_id = $1`,
    [checkUuid(dataflowId)],
  );
  const order = new Map(CATALOG.map((t, index) => [t.name, index]));
  return rows
    .map((row) => ({
      table: row.table_name,
      purpose: row.purpose,
      selected: row.selected,
      selectedFields: row.selected_fields,
      availableFields: row.available_fields,
      missingScopes: row.missing_scopes,
    }))
    .sort(
      (a, b) => (order.get(a.table) ?? Infinity) - (order.get(b.table) ?? Infinity) || a.table.localeCompare(b.table),
    );
}

/**
 * Records what the dataflow's key lacks to read each table (from a validation of the key), without
 * touching the selection or `updated_at`: nothing the user chose changed.
 */
export async function recordMissingScopes(
  db: Queryable,
  dataflowId: string,
  missingByTable: ReadonlyMap<string, readonly string[]>,
): Promise<void> {
  await db.query(
    `UPDATE ${CONTROL_TABLES.dataflowTables} t SET missing_scopes = ARRAY(SELECT jsonb_array_elements_text(m.value))
     FROM jsonb_each($2::jsonb) m WHERE t.dataflow_id = $1 AND t.table_name = m.key`,
    [checkUuid(dataflowId), JSON.stringify(Object.fromEntries(missingByTable))],
  );
}

/** Replaces the table selection of a dataflow. @throws DataflowNotFoundError, InvalidSelectionError */
export async function setTables(
  pool: pg.Pool,
  dataflowId: string,
  tables: TableSelectionInput[],
): Promise<DataflowTable[]> {
  const resolved = resolveSelection(parseInput(z.array(tableSelectionSchema), tables));
  await withTransaction(pool, async (client) => {
    const result = await client.query(`UPDATE ${CONTROL_TABLES.dataflows} SET updated_at = now() WHERE id = $1`, [
      checkUuid(dataflowId),
    ]);
    if (!result.rowCount) throw new DataflowNotFoundError(dataflowId, 'id');
    await writeTables(client, dataflowId, resolved);
  });
  return getTables(pool, dataflowId);
}

/** Replaces the saved selection rows of a dataflow, in the caller's transaction. */
export async function writeTables(client: pg.PoolClient, dataflowId: string, tables: DataflowTable[]): Promise<void> {
  await client.query(`DELETE FROM ${CONTROL_TABLES.dataflowTables} WHERE dataflow_id = $1`, [dataflowId]);
  if (tables.length === 0) return;
  await client.query(
    `INSERT INTO ${CONTROL_TABLES.dataflowTables}
       (dataflow_id, table_name, purpose, selected, selected_fields, available_fields, missing_scopes)
     SELECT $1, t.table_name, t.purpose, t.selected, ARRAY(SELECT jsonb_array_elements_text(t.selected_fields)),
            t.available_fields,
            CASE WHEN t.missing_scopes IS NULL OR jsonb_typeof(t.missing_scopes) = 'null' THEN NULL
                 ELSE ARRAY(SELECT jsonb_array_elements_text(t.missing_scopes)) END
     FROM jsonb_to_recordset($2::jsonb)
       AS t(table_name text, purpose text, selected boolean, selected_fields jsonb, available_fields jsonb,
            missing_scopes jsonb)`,
    [
      dataflowId,
      JSON.stringify(
        tables.map((t) => ({
          table_name: t.table,
          purpose: t.purpose,
          selected: t.selected,
          selected_fields: t.selectedFields,
          available_fields: t.availableFields,
          missing_scopes: t.missingScopes,
        })),
      ),
    ],
  );
}
