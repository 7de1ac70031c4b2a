import type { HistoryRecord } from '../../api-types';
import { enc } from '../api';
import { ErrorAlert } from '../components/alert';
import { DataTable, WhenLoaded, type Column } from '../components/data-table';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { ExternalLink, NavButton } from '../components/link';
import { isRunningStatus, StatusPill } from '../components/status';
import { DateTime } from '../components/time';
import { formatDuration, formatNumber } from '../format';
import { usePolled, useTitle } from '../hooks';
import { dataflowPath } from '../router';

function versionText(r: HistoryRecord): string {
  if (r.fromVersion != null || r.toVersion != null) {
    return `${r.fromVersion ?? '?'} → ${r.toVersion ?? '?'}`;
  }
  return r.version === null ? '' : String(r.version);
}

function rowsText(r: HistoryRecord): string {
  if (r.tables.length === 0) return r.rows ? formatNumber(r.rows) : '';
  return `${formatNumber(r.rows)} in ${r.tables.length} ${r.tables.length === 1 ? 'table' : 'tables'}`;
}

/** Every run, rollback and remove of a dataflow, newest first; refreshed while one is running. */
export function RunHistory({ name }: { name: string }) {
  useTitle(`${name} · Run History`);
  const history = usePolled<HistoryRecord[]>(`/api/dataflows/${enc(name)}/history`, (records) =>
    records?.some((r) => isRunningStatus(r.status)) ? 2000 : 15000,
  );
  const records = history.data;
  return (
    <>
      <Breadcrumbs items={[{ label: name, href: dataflowPath(name) }, { label: 'Run History' }]} />
      <PageHeading>Run History of {name}</PageHeading>
      <div class="toolbar">
        <NavButton to={dataflowPath(name)}>Back to {name}</NavButton>
        <button type="button" class="btn" onClick={() => void history.reload()}>
          Refresh
        </button>
      </div>
      <ErrorAlert error={records ? null : history.error} />
      <WhenLoaded data={records} loading={history.loading}>
        {(rows) => (
          <DataTable
            columns={COLUMNS}
            rows={rows}
            empty={<p class="empty">No runs of {name} yet. Run it from its page or the Imports list.</p>}
            row={(r) => <HistoryRow key={`${r.workflowId}/${r.runId}`} r={r} />}
          />
        )}
      </WhenLoaded>
    </>
  );
}

const COLUMNS: Column[] = [
  'Operation',
  'Status',
  'Trigger',
  'Start',
  'Duration',
  { label: 'Rows', num: true },
  'Version',
  'Description',
  'Temporal',
];

function HistoryRow({ r }: { r: HistoryRecord }) {
  return (
    <tr data-testid="history-row">
      <th scope="row">{r.operation}</th>
      <td>
        <StatusPill status={r.status} />
      </td>
      <td>{r.trigger}</td>
      <td>
        <DateTime iso={r.start} />
      </td>
      <td>{isRunningStatus(r.status) ? <span class="muted">running</span> : formatDuration(r.durationMs)}</td>
      <td class="num">{rowsText(r)}</td>
      <td>{versionText(r)}</td>
      <td data-testid="history-description" class="description-cell">
        {r.description ?? ''}
      </td>
      <td>
        <ExternalLink href={r.url} label={`Open ${r.operation} of ${r.start} in Temporal Web UI`}>
          Open
        </ExternalLink>
      </td>
    </tr>
  );
}
