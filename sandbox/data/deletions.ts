import { CATALOG, findTable, type CatalogTable } from '../../klaviyo/catalog';
import type { Dataset } from './dataset';

/**
 * Deleting records from the sandbox account, as Klaviyo's DELETE endpoints (and its data-privacy deletions) do: from
 * then on every listing leaves them out, by resource type, so a deleted profile also leaves the list and segment
 * memberships and a deleted list leaves the tag links. What a record owns goes with it (a flow's actions and their
 * messages, a campaign's messages); a deleted parent's fan-out path answers 404. Events of a deleted profile are
 * kept: Klaviyo removes them asynchronously, which the sandbox does not model.
 */

export interface DeleteResult {
  table: string;
  deleted: number;
}

/**
 * Deletes the rows of a top-level table with these ids. Throws a RangeError naming what is wrong (an unknown table,
 * a table read per parent, an id the account does not have); then nothing is deleted.
 */
export function deleteRecords(ds: Dataset, tableName: string, ids: readonly string[]): DeleteResult {
  const table = findTable(tableName);
  if (!table) throw new RangeError(`Unknown table "${tableName}"`);
  if (table.parent || table.idsOnly) {
    throw new RangeError(
      `Rows of "${table.name}" are not records of their own; delete the ${table.parent?.table ?? 'linked'} record instead`,
    );
  }
  if (ids.length === 0) throw new RangeError('Give at least one id to delete');
  const index = ds.cached(`deletable:${table.name}`, () => idIndex(ds, table));
  const unknown = ids.filter((id) => !index.has(id));
  if (unknown.length > 0) {
    throw new RangeError(`The account has no ${table.name} with id ${unknown.slice(0, 5).join(', ')}`);
  }
  // Everything is collected before anything is hidden: finding owned rows needs their parents visible.
  const byType = new Map<string, Set<string>>();
  collect(ds, table, [...new Set(ids)], byType);
  for (const [type, deleted] of byType) ds.state.delete(type, deleted);
  return { table: table.name, deleted: new Set(ids).size };
}

/** The ids of a top-level table's visible rows. */
function idIndex(ds: Dataset, table: CatalogTable): Set<string> {
  const source = ds.source(table.name);
  const hidden = source.hiddenIds;
  const ids = new Set<string>();
  for (let i = 0; i < source.count; i++) {
    const id = source.row(i).id;
    if (!hidden?.has(id)) ids.add(id);
  }
  return ids;
}

/** Adds `ids` of `table` and, recursively, the ids of the rows they own to `byType`. */
function collect(ds: Dataset, table: CatalogTable, ids: readonly string[], byType: Map<string, Set<string>>): void {
  let set = byType.get(table.resourceType);
  if (!set) byType.set(table.resourceType, (set = new Set()));
  for (const id of ids) set.add(id);
  for (const child of ownedChildren(table)) {
    for (const id of ids) {
      const parentIndex = ds.parentIndex(child.name, id);
      if (parentIndex === undefined) continue;
      const source = ds.source(child.name, parentIndex);
      const childIds: string[] = [];
      for (let i = 0; i < source.count; i++) childIds.push(source.row(i).id);
      collect(ds, child, childIds, byType);
    }
  }
}

/** Fan-out tables whose rows belong to their parent; memberships (profiles) and id-only links only refer to it. */
function ownedChildren(table: CatalogTable): CatalogTable[] {
  return CATALOG.filter((t) => t.parent?.table === table.name && !t.idsOnly && t.resourceType !== 'profile');
}
