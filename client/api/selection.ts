/** Which tables and fields a dataflow imports: the rule create, edit and Connect share. */
import { SELECTABLE_TABLES, findTable, slowTierFields, type CatalogTable } from '../../klaviyo/catalog';
import { selectedByDefault } from '../../klaviyo/report-catalog';
import type { DataflowTable, TableSelectionInput } from '../../control-plane/table-selection';
import { UserInputError } from '../../shared/user-input-error';

/** What create/edit say about tables and fields; every `…Fields` entry is a `table.field` pair. */
export interface SelectionChoice {
  /** @default every readable table */
  tables?: string[];
  excludeFields?: string[];
  fields?: string[];
  includeFields?: string[];
  /** Exactly these fields for each table named (an empty list is allowed), e.g. from the console's picker. */
  tableFields?: Record<string, string[]>;
}

/**
 * The table selection for create/edit. Tables: `tables` (default: all readable). Fields of a table:
 * exactly those `fields` names for it when it names any, else the defaults, which are every field except
 * the slow-tier ones ({@link slowTierFields}: reading profiles with `predictive_analytics` costs a slower
 * tier, so it is opt-in through `includeFields` or `fields`); then `includeFields` are added and
 * `excludeFields` taken away. Unknown or unreadable names are errors that say what is known.
 */
export function selectionFor(readable: CatalogTable[], choice: SelectionChoice = {}): TableSelectionInput[] {
  const { tables, excludeFields } = choice;
  const readableNames = new Set(readable.map((t) => t.name));
  // Report tables spend Klaviyo's daily report quota: selected only by name.
  const wanted = tables && tables.length > 0 ? tables : readable.filter(selectedByDefault).map((t) => t.name);
  for (const name of wanted) {
    const table = findTable(name);
    if (!table) {
      throw new UserInputError(
        `Unknown table "${name}". Known tables: ${SELECTABLE_TABLES.map((t) => t.name).join(', ')}.`,
      );
    }
    if (!readableNames.has(name)) {
      throw new UserInputError(
        `The API key cannot read the table "${name}": it needs the scope${table.scopes.length > 1 ? 's' : ''} ${table.scopes.join(', ')}.`,
      );
    }
  }
  const fieldPairs = (entries: string[] | undefined) => {
    const byTable = new Map<string, Set<string>>();
    for (const entry of entries ?? []) {
      const [table, field] = parseFieldPair(entry, wanted);
      byTable.set(table, (byTable.get(table) ?? new Set()).add(field));
    }
    return byTable;
  };
  const excluded = fieldPairs(excludeFields);
  const exact = fieldPairs(choice.fields);
  // A per-table list (the console's field picker) may be empty: a table read for its ids alone.
  for (const [table, fields] of Object.entries(choice.tableFields ?? {})) {
    for (const field of fields) parseFieldPair(`${table}.${field}`, wanted);
    if (!wanted.includes(table)) throw new UserInputError(`Fields were given for "${table}", which is not selected.`);
    exact.set(table, new Set(fields));
  }
  const included = fieldPairs(choice.includeFields);
  const wantedSet = new Set(wanted);
  return SELECTABLE_TABLES.map((t) => {
    const slow = new Set(slowTierFields(t));
    const chosen = exact.get(t.name);
    return {
      table: t.name,
      selected: wantedSet.has(t.name),
      fields: t.fields
        .map((f) => f.name)
        .filter((f) => (chosen ? chosen.has(f) : !slow.has(f)) || included.get(t.name)?.has(f))
        .filter((f) => !excluded.get(t.name)?.has(f)),
    };
  });
}

/** `table.field` → [table, field], checked against the catalog and the selected tables. */
function parseFieldPair(entry: string, wanted: readonly string[]): [string, string] {
  const [table, field, ...rest] = entry.split('.');
  const catalogTable = findTable(table);
  if (!catalogTable || !field || rest.length > 0) {
    throw new UserInputError(`"${entry}" is not a table.field pair of a known table (e.g. profiles.phone_number).`);
  }
  if (!catalogTable.fields.some((f) => f.name === field)) {
    throw new UserInputError(
      `The table "${table}" has no field "${field}"; its fields are: ${catalogTable.fields.map((f) => f.name).join(', ')}.`,
    );
  }
  if (!wanted.includes(table))
    throw new UserInputError(`"${entry}" names the table "${table}", which is not selected.`);
  return [table, field];
}

/** The selection with, per table, the scopes the key lacks to read it. */
export function withMissingScopes(tables: TableSelectionInput[], missing: ReadonlySet<string>): TableSelectionInput[] {
  return tables.map((t) => ({ ...t, missingScopes: (findTable(t.table)?.scopes ?? []).filter((s) => missing.has(s)) }));
}

export function missingByTable(missing: ReadonlySet<string>): Map<string, string[]> {
  return new Map(SELECTABLE_TABLES.map((t) => [t.name, t.scopes.filter((s) => missing.has(s))]));
}

/** Whether a new selection chooses the same tables and fields as the saved one. */
export function sameSelection(saved: DataflowTable[], next: TableSelectionInput[]): boolean {
  const byName = new Map(saved.map((t) => [t.table, t]));
  const sameList = (a: readonly string[] | null | undefined, b: readonly string[] | null | undefined) =>
    a !== null && a !== undefined && b !== null && b !== undefined && [...a].sort().join() === [...b].sort().join();
  return (
    next.length === saved.length &&
    next.every((t) => {
      const before = byName.get(t.table);
      return (
        before !== undefined &&
        before.selected === (t.selected ?? true) &&
        (!before.selected || sameList(before.selectedFields, t.fields))
      );
    })
  );
}
