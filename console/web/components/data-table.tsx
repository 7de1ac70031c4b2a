import type { ComponentChildren } from 'preact';

/** A column's header: its words, or the words and whether it holds numbers (right-aligned). */
export type Column = string | { label: ComponentChildren; num?: boolean };

/**
 * The console's tables: a scroll box (a focusable, named region when `region` is given, for keyboard users of
 * wide tables), the header row, one or more `<tr>` per item from `row`, and what to show when there are no items:
 * `empty` in place of the table, or with `emptyInTable` as a row under the header (a filter that matched nothing
 * keeps its columns in view).
 */
export function DataTable<T>(props: {
  columns: Column[];
  rows: T[];
  row: (item: T, index: number) => ComponentChildren;
  empty?: ComponentChildren;
  emptyInTable?: boolean;
  /** Extra classes of the table (`compact`, `picker-table`) and of the scroll box (`preview-scroll`). */
  tableClass?: string;
  scrollClass?: string;
  region?: string;
}) {
  const { columns, rows, empty, region } = props;
  if (rows.length === 0 && empty !== undefined && !props.emptyInTable) return <>{empty}</>;
  return (
    <div
      class={withClass('table-scroll', props.scrollClass)}
      tabIndex={region ? 0 : undefined}
      role={region ? 'region' : undefined}
      aria-label={region}
    >
      <table class={withClass('data-table', props.tableClass)}>
        <thead>
          <tr>
            {columns.map((c, i) =>
              typeof c === 'string' ? (
                <th scope="col" key={i}>
                  {c}
                </th>
              ) : (
                <th scope="col" key={i} class={c.num ? 'num' : undefined}>
                  {c.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && empty !== undefined && (
            <tr>
              <td colSpan={columns.length} class="muted">
                {empty}
              </td>
            </tr>
          )}
          {rows.map(props.row)}
        </tbody>
      </table>
    </div>
  );
}

function withClass(base: string, extra: string | undefined): string {
  return extra ? `${base} ${extra}` : base;
}

/**
 * What a page shows for data it fetches: "Loading…" before the first answer, then `children` with the data. The
 * error of a failed first fetch is the page's to show (it sits in its ErrorAlert).
 */
export function WhenLoaded<T>(props: {
  data: T | undefined;
  loading: boolean;
  loadingText?: string;
  children: (data: T) => ComponentChildren;
}) {
  if (props.data !== undefined) return <>{props.children(props.data)}</>;
  return props.loading ? <p class="muted">{props.loadingText ?? 'Loading…'}</p> : null;
}
