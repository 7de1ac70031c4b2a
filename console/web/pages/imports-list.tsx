import { useMemo, useState } from 'preact/hooks';
import type { DataflowListItem } from '../../api-types';
import { ErrorAlert, Notice } from '../components/alert';
import { useDataflowActions } from '../components/dataflow-actions';
import { DataTable, type Column } from '../components/data-table';
import { InlineField, SearchField } from '../components/field';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { Link, NavButton } from '../components/link';
import { MenuButton } from '../components/menu';
import { ProgressSummary } from '../components/progress';
import { StatusPill, statusLabel } from '../components/status';
import { DateTime } from '../components/time';
import { shorten } from '../format';
import { usePolled, useTitle } from '../hooks';
import { dataflowPath, navigate } from '../router';

type GroupBy = 'none' | 'name' | 'type' | 'status';

function isRunning(row: DataflowListItem): boolean {
  return row.running !== null || row.status === 'Running';
}

/** A run waiting for Retry or Discard is running in Temporal's eyes, but it needs attention, not patience. */
function needsAttention(row: DataflowListItem): boolean {
  return row.running?.progress?.phase === 'needs-attention' || row.status === 'NeedsAttention';
}

function rowStatus(row: DataflowListItem): string {
  return needsAttention(row) ? 'NeedsAttention' : row.running ? 'Running' : row.status;
}

/** The Imports list: every dataflow with its live status, grouped and filtered, with each one's actions. */
export function ImportsList() {
  useTitle('Imports');
  const list = usePolled<DataflowListItem[]>('/api/dataflows', (rows) => (rows?.some(isRunning) ? 2000 : 10000));
  const actions = useDataflowActions(() => void list.reload());
  const [groupBy, setGroupBy] = useState<GroupBy>('none');
  const [search, setSearch] = useState('');

  const rows = list.data ?? [];
  const filtered = useMemo(() => {
    const q = search.trim().toLowerCase();
    return q ? rows.filter((r) => r.name.toLowerCase().includes(q) || r.displayName.toLowerCase().includes(q)) : rows;
  }, [rows, search]);

  const groups = useMemo(() => {
    const map = new Map<string, DataflowListItem[]>();
    const sorted = [...filtered].sort((a, b) => a.name.localeCompare(b.name));
    for (const row of sorted) {
      const key =
        groupBy === 'name'
          ? row.name
          : groupBy === 'type'
            ? row.type
            : groupBy === 'status'
              ? statusLabel(rowStatus(row))
              : '';
      map.set(key, [...(map.get(key) ?? []), row]);
    }
    return [...map].sort(([a], [b]) => a.localeCompare(b));
  }, [filtered, groupBy]);

  const groupLabel = { none: '', name: 'Name', type: 'Type', status: 'Status' }[groupBy];

  return (
    <>
      <Breadcrumbs items={[]} />
      <PageHeading>Imports</PageHeading>
      <div class="toolbar">
        <SearchField
          id="list-search"
          label="Search"
          placeholder="Name or display name"
          value={search}
          onValue={setSearch}
        />
        <InlineField id="group-by" label="Group by">
          <select id="group-by" value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as GroupBy)}>
            <option value="none">None</option>
            <option value="name">Name</option>
            <option value="type">Type</option>
            <option value="status">Status</option>
          </select>
        </InlineField>
        <span class="spacer" />
        <NavButton to={'/imports/new'} primary>
          New Dataflow
        </NavButton>
      </div>
      <ErrorAlert error={actions.error ?? (list.data ? null : list.error)} />
      <Notice text={actions.notice} />
      {list.loading && !list.data ? (
        <p class="muted">Loading dataflows…</p>
      ) : list.data && rows.length === 0 ? (
        <div class="empty">
          <h2>No dataflows yet</h2>
          <p>
            A dataflow imports the tables of a Klaviyo account into Postgres. Create one with the account's private API
            key, pick the tables and fields, then run it.
          </p>
          <NavButton to={'/imports/new'} primary>
            New Dataflow
          </NavButton>
        </div>
      ) : list.data && filtered.length === 0 ? (
        <p class="empty">
          No dataflows match “{search}”. Clear the search to see all {rows.length}.
        </p>
      ) : list.data ? (
        groups.map(([key, members]) => (
          <section key={key} class="group" aria-label={groupBy === 'none' ? 'Dataflows' : `${groupLabel}: ${key}`}>
            {groupBy !== 'none' && (
              <h2 class="group-heading">
                {groupLabel}: {key} <span class="muted">({members.length})</span>
              </h2>
            )}
            <DataflowTable rows={members} actions={actions} />
          </section>
        ))
      ) : null}
      {list.error && list.data && <p class="muted">Could not refresh: {list.error.message}</p>}
      {actions.dialog}
    </>
  );
}

function DataflowTable({
  rows,
  actions,
}: {
  rows: DataflowListItem[];
  actions: ReturnType<typeof useDataflowActions>;
}) {
  return (
    <DataTable
      columns={COLUMNS}
      rows={rows}
      row={(row) => <DataflowRow key={row.name} row={row} actions={actions} />}
    />
  );
}

const COLUMNS: Column[] = [
  'Name',
  'Type',
  'Status',
  { label: 'Tables Count', num: true },
  'Created',
  'Updated',
  'Last Refresh',
  'Actions',
];

function DataflowRow({ row, actions }: { row: DataflowListItem; actions: ReturnType<typeof useDataflowActions> }) {
  const running = isRunning(row);
  const status = rowStatus(row);
  return (
    <tr data-testid={`row-${row.name}`}>
      <th scope="row" class="name-cell">
        <Link href={dataflowPath(row.name)}>{row.name}</Link>
        {row.displayName && row.displayName !== row.name && <div class="muted small">{row.displayName}</div>}
      </th>
      <td>{row.type}</td>
      <td data-testid={`status-${row.name}`} class="status-cell">
        <StatusPill status={status} />
        {running && <ProgressSummary progress={row.running?.progress ?? null} operation={row.running?.operation} />}
        {((!running && status === 'Failed') || status === 'NeedsAttention') && row.lastError && (
          <div class="error-text small" title={row.lastError}>
            {shorten(row.lastError, 70)}
          </div>
        )}
      </td>
      <td class="num" data-testid={`tables-${row.name}`}>
        {row.tablesCount}
      </td>
      <td>
        <DateTime iso={row.created} />
      </td>
      <td>
        <DateTime iso={row.updated} />
      </td>
      <td data-testid={`refresh-${row.name}`}>
        <DateTime iso={row.lastRefresh} empty="Never" />
      </td>
      <td class="actions-cell">
        <MenuButton
          label={`Actions for ${row.name}`}
          items={[
            { label: 'Edit', onSelect: () => navigate(dataflowPath(row.name, 'edit')) },
            ...(status === 'NeedsAttention'
              ? [
                  { label: 'Retry failed tables', onSelect: () => void actions.retry(row.name) },
                  { label: 'Discard run', onSelect: () => void actions.discard(row.name) },
                ]
              : [
                  running
                    ? { label: 'Cancel run', onSelect: () => void actions.cancel(row.name) }
                    : { label: 'Run', onSelect: () => void actions.run(row.name) },
                ]),
            { label: 'Rollback', onSelect: () => actions.askRollback(row.name, row.displayName) },
            { label: 'Remove', onSelect: () => actions.askRemove(row.name, row.displayName), danger: true },
            { label: 'Run History', onSelect: () => navigate(dataflowPath(row.name, 'history')) },
            { label: 'Schedule', onSelect: () => navigate(dataflowPath(row.name, 'schedule')) },
          ]}
        />
      </td>
    </tr>
  );
}
