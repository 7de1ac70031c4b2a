import { CATALOG, findTable, type CatalogField, type Purpose } from '../klaviyo/catalog';
import { InvalidSelectionError } from './errors';

/** What a caller says about one table; omitted parts default to "everything the catalog offers". */
export interface TableSelectionInput {
  table: string;
  /** @default true */
  selected?: boolean;
  /** The fields to import. @default every available field */
  fields?: readonly string[];
  /** The fields discovery found for this account. @default the catalog's fields of the table */
  availableFields?: readonly CatalogField[];
  /** The scopes the dataflow's key lacks to read the table (empty: readable). @default not recorded */
  missingScopes?: readonly string[];
}

/** A table of a dataflow as the control plane stores it. */
export interface DataflowTable {
  table: string;
  purpose: Purpose;
  selected: boolean;
  selectedFields: string[];
  availableFields: CatalogField[];
  /** The scopes the key lacks to read the table, recorded when the key was validated; null when never recorded. */
  missingScopes: string[] | null;
}

/** Every catalog table, selected with all its fields: the default of a new dataflow. */
export function fullSelection(): TableSelectionInput[] {
  return CATALOG.map((table) => ({ table: table.name }));
}

/**
 * Resolves a selection against the catalog. Throws an {@link InvalidSelectionError} for an unknown
 * table, a table given twice, or a field that is not available; duplicate fields are merged.
 */
export function resolveSelection(inputs: readonly TableSelectionInput[]): DataflowTable[] {
  const seen = new Set<string>();
  return inputs.map((input) => {
    const catalogTable = findTable(input.table);
    if (!catalogTable) {
      throw new InvalidSelectionError(
        `Unknown table ${JSON.stringify(input.table)}. Known tables: ${CATALOG.map((t) => t.name).join(', ')}.`,
      );
    }
    if (seen.has(input.table)) throw new InvalidSelectionError(`The table "${input.table}" is listed twice.`);
    seen.add(input.table);
    const availableFields = [...(input.availableFields ?? catalogTable.fields)];
    const available = new Set(availableFields.map((f) => f.name));
    const selectedFields = [...new Set(input.fields ?? availableFields.map((f) => f.name))];
    const unknown = selectedFields.filter((f) => !available.has(f));
    if (unknown.length > 0) {
      throw new InvalidSelectionError(
        `The table "${input.table}" has no field ${unknown.map((f) => JSON.stringify(f)).join(', ')}; ` +
          `its fields are: ${[...available].join(', ') || '(none, it holds ids only)'}.`,
      );
    }
    return {
      table: input.table,
      purpose: catalogTable.purpose,
      selected: input.selected ?? true,
      selectedFields,
      availableFields,
      missingScopes: input.missingScopes ? [...input.missingScopes] : null,
    };
  });
}
