import type { KeyFn, Resource, RowSource } from './row';

/** One catalog table as the generators implement it. */
export interface TableModel {
  /** Top-level tables ignore the argument; fan-out tables get the index of the parent row. */
  source(parentIndex: number): RowSource;
  /** Fan-out tables: every parent row, as (index for `source`, id in the path). */
  parents?(): Iterable<ParentRow>;
  /** The index of a row of a top-level table by id, when cheaper than a scan. */
  indexOfId?(id: string): number | undefined;
  /** The ids of a top-level table, when cheaper than building every row. */
  ids?(): Iterable<string>;
}

export interface ParentRow {
  index: number;
  id: string;
}

/** A row source over `count` generated rows, with optional cheap keys and predicates. */
export function rowSource(
  count: number,
  row: (index: number) => Resource,
  extra: Omit<RowSource, 'count' | 'row'> = {},
): RowSource {
  return { count, row, ...extra };
}

/** A key map for `RowSource.key`. */
export function keyLookup(keys: Record<string, KeyFn>): (field: string) => KeyFn | undefined {
  return (field) => (Object.prototype.hasOwnProperty.call(keys, field) ? keys[field] : undefined);
}

/** Every parent row of a top-level parent table. */
export function* allRows(source: RowSource): Iterable<ParentRow> {
  for (let index = 0; index < source.count; index++) yield { index, id: source.row(index).id };
}
