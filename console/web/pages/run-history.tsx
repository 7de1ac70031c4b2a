import type { HistoryRecord } from '../../api-types';
import { enc } from '../api';
import { ErrorAlert } from '../components/alert';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { ExternalLink } from '../components/link';
import { isRunningStatus, StatusPill } from '../components/status';
import { DateTime } from '../components/time';
import { formatDuration, formatNumber } from '../format';
import { usePolled, useTitle } from '../hooks';
import { dataflowPath, navigate } from '../router';

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
        <button type="button" class="btn" onClick={() => navigate(dataflowPath(name))}>
          Back to {name}
        </button>
        <button type="button" class="btn" onClick={() => void history.reload()}>
          Refresh
        </button>
      </div>
      <ErrorAlert error={records ? null : history.error} />
      {history.loading && !records ? (
        <p class="muted">Loading…</p>
      ) : records && records.length === 0 ? (
        <p class="empty">No runs of {name} yet. Run it from its page or the Imports list.</p>
      ) : records ? (
        <div class="table-scroll">
          <table class="data-table">
            <thead>
              <tr>
                <th scope="col">Operation</th>
                <th scope="col">Status</th>
                <th scope="col">Trigger</th>
                <th scope="col">Start</th>
                <th scope="col">Duration</th>
                <th scope="col" class="num">
                  Rows
                </th>
                <th scope="col">Version</th>
                <th scope="col">Description</th>
                <th scope="col">Temporal</th>
              </tr>
            </thead>
            <tbody>
              {records.map((r) => (
                <tr key={`${r.workflowId}/${r.runId}`} data-testid="history-row">
                  <th scope="row">{r.operation}</th>
                  <td>
                    <StatusPill status={r.status} />
                  </td>
                  <td>{r.trigger}</td>
                  <td>
                    <DateTime iso={r.start} />
                  </td>
                  <td>
                    {isRunningStatus(r.status) ? <span class="muted">running</span> : formatDuration(r.durationMs)}
                  </td>
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
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
