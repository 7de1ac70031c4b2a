import {
  findTable,
  toOneRelationships,
  type CatalogField,
  type CatalogTable,
  type ColumnType,
} from '../klaviyo/catalog';
import { reportSpecOf } from '../klaviyo/report-catalog';
import { InvalidIdentifierError } from './errors';
import { columnNameForField, validateIdentifier, validateTableName } from './identifiers';

/** Where a column's value comes from in a JSON:API resource (or in the extraction's context). */
export type ColumnSource =
  | { kind: 'id' }
  | { kind: 'attribute'; field: string }
  | { kind: 'relationship'; relationship: string }
  /** The fan-out parent's id; falls back to the to-one relationship of the same name, if any. */
  | { kind: 'parent'; relationship: string | null }
  /** The campaign channel a pass was filtered on. */
  | { kind: 'channel' };

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
}

export interface ColumnSpec extends ColumnDefinition {
  source: ColumnSource;
}

/** What a per-version table is made of; `_version` and `_extracted_at` are added to every table. */
export interface TableDefinition {
  table: string;
  /** The loaded columns, in COPY order. */
  columns: readonly ColumnDefinition[];
  /** The natural key: a duplicate row can never be committed. */
  primaryKey: readonly string[];
}

export interface TableLayout extends TableDefinition {
  columns: readonly ColumnSpec[];
}

/** Columns every per-version table has, filled by Postgres: the version (constant) and the load time. */
export const SYSTEM_COLUMNS = { version: '_version', extractedAt: '_extracted_at' } as const;

/**
 * The warehouse layout of a catalog table (docs/ARCHITECTURE.md, "The versioned warehouse"): `id`; for a fan-out
 * table the parent's id (`list_memberships.list_id`, key `(list_id, id)`); for campaigns the channel (key
 * `(channel, id)`);
 * `<rel>_id` per to-one relationship (`events.profile_id`); one typed column per selected field.
 * Id-only relationship tables get just the keys. Throws an {@link InvalidIdentifierError} when two
 * sources would share a column name; never renames silently.
 * @param fields the selected fields with their types @default all fields of the catalog table
 */
export function tableLayout(table: CatalogTable, fields: readonly CatalogField[] = table.fields): TableLayout {
  validateTableName(table.name);
  const report = reportSpecOf(table);
  if (report) return reportLayout(table.name, report, fields);
  const columns: ColumnSpec[] = [];
  const origins = new Map<string, string>([
    [SYSTEM_COLUMNS.version, 'a system column'],
    [SYSTEM_COLUMNS.extractedAt, 'a system column'],
  ]);
  const add = (spec: ColumnSpec, origin: string) => {
    validateIdentifier(spec.name, 'column');
    const taken = origins.get(spec.name);
    if (taken !== undefined) {
      throw new InvalidIdentifierError(
        `Table "${table.name}": ${origin} would go into column "${spec.name}", which is already ${taken}.`,
      );
    }
    origins.set(spec.name, origin);
    columns.push(spec);
  };

  add({ name: 'id', type: 'text', source: { kind: 'id' } }, 'the resource id');
  const primaryKey = ['id'];
  let parentColumn: string | undefined;
  if (table.parent) {
    const parent = findTable(table.parent.table);
    if (!parent)
      throw new InvalidIdentifierError(`Table "${table.name}": unknown parent table "${table.parent.table}".`);
    parentColumn = relationshipColumn(parent.resourceType);
    const sameRelationship = toOneRelationships(table).find((r) => relationshipColumn(r.name) === parentColumn);
    add(
      { name: parentColumn, type: 'text', source: { kind: 'parent', relationship: sameRelationship?.name ?? null } },
      `the parent ${parent.resourceType} id`,
    );
    primaryKey.unshift(parentColumn);
  }
  if (table.requiredFilter?.kind === 'channel') {
    add({ name: 'channel', type: 'text', source: { kind: 'channel' } }, 'the channel');
    primaryKey.unshift('channel');
  }
  if (!table.idsOnly) {
    for (const relationship of toOneRelationships(table)) {
      const name = relationshipColumn(relationship.name);
      if (name === parentColumn) continue;
      add(
        { name, type: 'text', source: { kind: 'relationship', relationship: relationship.name } },
        `the relationship "${relationship.name}"`,
      );
    }
    for (const field of fields) {
      add(
        { name: columnNameForField(field.name), type: field.type, source: { kind: 'attribute', field: field.name } },
        `the field ${JSON.stringify(field.name)}`,
      );
    }
  }
  return { table: table.name, columns, primaryKey };
}

/**
 * A Reporting API table: its grouping columns (text), a series' `date` (the day's start), then one numeric column
 * per selected statistic; keyed by the groupings (and the day). Each result is mapped as a resource whose attributes
 * are its groupings, date and statistics (klaviyo/reports.ts), so it goes through the same coercions.
 */
function reportLayout(
  name: string,
  report: { kind: 'values' | 'series'; groupings: readonly string[] },
  fields: readonly CatalogField[],
): TableLayout {
  const key = [...report.groupings, ...(report.kind === 'series' ? ['date'] : [])];
  const columns: ColumnSpec[] = key.map((column) => ({
    name: validateIdentifier(column, 'column'),
    type: column === 'date' ? 'timestamptz' : 'text',
    source: { kind: 'attribute', field: column },
  }));
  for (const field of fields) {
    const column = validateIdentifier(columnNameForField(field.name), 'column');
    if (key.includes(column)) {
      throw new InvalidIdentifierError(`Table "${name}": the statistic "${field.name}" collides with a grouping.`);
    }
    columns.push({ name: column, type: field.type, source: { kind: 'attribute', field: field.name } });
  }
  return { table: name, columns, primaryKey: key };
}

/** `<rel>_id`, with `-` as `_`: `custom-metric` → `custom_metric_id`. */
export function relationshipColumn(relationship: string): string {
  return `${columnNameForField(relationship)}_id`;
}
