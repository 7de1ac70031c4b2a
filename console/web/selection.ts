import type { DiscoveredTable, SavedTable, TableChoice } from '../api-types';

/** The wizard's table choice: per table whether it is selected and which fields (kept while unselected). */
export type Selection = Record<string, { selected: boolean; fields: string[] }>;

/** A new dataflow's defaults: every readable table, each with its `defaultSelected` fields. */
export function defaultSelection(tables: DiscoveredTable[]): Selection {
  const selection: Selection = {};
  for (const t of tables) {
    selection[t.name] = {
      selected: t.readable && t.selectedByDefault,
      fields: t.fields.filter((f) => f.defaultSelected).map((f) => f.name),
    };
  }
  return selection;
}

/** What is saved, over what Connect discovers now: saved tables keep their choice, new ones start unselected. */
export function savedSelection(tables: DiscoveredTable[], saved: SavedTable[]): Selection {
  const byName = new Map(saved.map((t) => [t.name, t]));
  const selection: Selection = {};
  for (const t of tables) {
    const s = byName.get(t.name);
    const known = new Set(t.fields.map((f) => f.name));
    const fields = s && s.selectedFields.length > 0 ? s.selectedFields.filter((f) => known.has(f)) : null;
    selection[t.name] = {
      selected: Boolean(s?.selected) && t.readable,
      fields: fields ?? t.fields.filter((f) => f.defaultSelected).map((f) => f.name),
    };
  }
  return selection;
}

/** The request's `tables`: every selected readable table with its fields, in the catalog's order. */
export function tableChoices(tables: DiscoveredTable[], selection: Selection): TableChoice[] {
  return tables
    .filter((t) => t.readable && selection[t.name]?.selected)
    .map((t) => {
      const chosen = new Set(selection[t.name].fields);
      return { name: t.name, fields: t.fields.filter((f) => chosen.has(f.name)).map((f) => f.name) };
    });
}

/** The first problem that keeps the choice from being saved, in words, or null. */
export function selectionProblem(tables: DiscoveredTable[], selection: Selection): string | null {
  const choices = tableChoices(tables, selection);
  if (choices.length === 0) return 'Select at least one table.';
  // A link table (e.g. tag_campaigns) has no fields of its own: only its keys, always read.
  const hasFields = new Set(tables.filter((t) => t.fields.length > 0).map((t) => t.name));
  const empty = choices.find((c) => c.fields.length === 0 && hasFields.has(c.name));
  return empty ? `Select at least one field of ${empty.name}, or untick the table.` : null;
}

/** Whether two choices select the same tables with the same fields. */
export function sameChoices(a: TableChoice[], b: TableChoice[]): boolean {
  const key = (choices: TableChoice[]) =>
    JSON.stringify(
      [...choices].sort((x, y) => x.name.localeCompare(y.name)).map((c) => [c.name, [...c.fields].sort()]),
    );
  return key(a) === key(b);
}
