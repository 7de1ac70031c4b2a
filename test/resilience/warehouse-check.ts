import type pg from 'pg';
import { warehouseSchemaName } from '../../control-plane/dataflow-name';
import { qualifiedName } from '../../warehouse/identifiers';
import type { Sandbox } from '../../sandbox/server';
import { compareValues } from '../support/value-digest';

/** How one warehouse table compares with what a complete read of the sandbox yields. */
export interface TableComparison {
  table: string;
  expected: number;
  stored: number;
  /** Sandbox ids missing from the warehouse. */
  lost: number;
  /** Rows beyond the first with the same id. */
  duplicated: number;
  /** Ids the sandbox does not have. */
  unexpected: number;
}

/** Compares `<dataflow>.<table>` (what readers see) with the sandbox, id by id. */
export async function compareWithSandbox(
  pool: pg.Pool,
  sandbox: Sandbox,
  dataflow: string,
  table: string,
): Promise<TableComparison> {
  const relation = qualifiedName(warehouseSchemaName(dataflow), table);
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM ${relation}`);
  const counts = new Map<string, number>();
  for (const { id } of rows) counts.set(id, (counts.get(id) ?? 0) + 1);
  const expected = new Set<string>();
  for await (const id of sandbox.expectedIds(table)) expected.add(id);
  let lost = 0;
  for (const id of expected) if (!counts.has(id)) lost += 1;
  let unexpected = 0;
  for (const id of counts.keys()) if (!expected.has(id)) unexpected += 1;
  return {
    table,
    expected: expected.size,
    stored: rows.length,
    lost,
    duplicated: rows.length - counts.size,
    unexpected,
  };
}

/** Every table of a dataflow compared; `exact` when none lost, duplicated or unexpected. */
export async function compareDataflow(pool: pg.Pool, sandbox: Sandbox, dataflow: string, tables: string[]) {
  const comparisons = await Promise.all(tables.map((t) => compareWithSandbox(pool, sandbox, dataflow, t)));
  const sum = (key: 'lost' | 'duplicated' | 'unexpected') => comparisons.reduce((n, c) => n + c[key], 0);
  return {
    comparisons,
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    unexpected: sum('unexpected'),
    exact: comparisons.every((c) => c.lost === 0 && c.duplicated === 0 && c.unexpected === 0),
  };
}

/** Ids and values of every table: what the warehouse holds against the sandbox's own truth. */
export interface DataflowCheck {
  lost: number;
  /** Rows beyond the first with one id, and rows whose id the sandbox does not have: neither may exist. */
  duplicated: number;
  /** Rows with the right id and some wrong value. */
  wrong: number;
  /** One line per table that is not exact, for the assertion's message. */
  problems: string[];
}

/** {@link compareDataflow} and, per table, the value digest of test/support/value-digest.ts. */
export async function checkDataflow(
  pool: pg.Pool,
  sandbox: Sandbox,
  dataflow: string,
  tables: string[],
): Promise<DataflowCheck> {
  const ids = await compareDataflow(pool, sandbox, dataflow, tables);
  const values = await Promise.all(tables.map((t) => compareValues(pool, sandbox, dataflow, t)));
  const problems = [
    ...ids.comparisons
      .filter((c) => c.lost || c.duplicated || c.unexpected)
      .map((c) => `${dataflow}.${c.table}: ${c.lost} lost, ${c.duplicated} duplicated, ${c.unexpected} unexpected`),
    ...values
      .filter((v) => !v.equal)
      .map(
        (v) =>
          `${dataflow}.${v.table}: ${v.warehouse.rows} rows (${v.warehouse.distinctIds} ids) digest ` +
          `${v.warehouse.digest.slice(0, 12)}, sandbox ${v.sandbox.rows} rows (says ${v.sandboxCount}) digest ` +
          `${v.sandbox.digest.slice(0, 12)}; ${v.wrongRows} rows differ: ${v.differences.join('; ')}`,
      ),
  ];
  return {
    lost: ids.lost,
    duplicated: ids.duplicated + ids.unexpected,
    wrong: values.reduce((n, v) => n + v.wrongRows, 0),
    problems,
  };
}
