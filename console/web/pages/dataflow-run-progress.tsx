import type { RunProgressView } from '../../api-types';
import { DataTable, type Column } from '../components/data-table';
import { ProgressSummary } from '../components/progress';
import { DateTime } from '../components/time';
import { formatNumber } from '../format';

/** A dataflow's page: its run in progress, per table, and what to do when the run needs attention. */

/**
 * A run whose tables failed for good waits with its version kept: which tables failed and why, and the two ways
 * on. Retry re-reads only the failed tables; Discard (or the wait running out) ends the run as failed.
 */
export function NeedsAttentionAlert(props: { progress: RunProgressView; onRetry: () => void; onDiscard: () => void }) {
  const failed = props.progress.tables.filter((t) => t.state === 'failed');
  return (
    <div class="alert alert-warn" data-testid="needs-attention">
      <p>
        <strong>Needs attention:</strong> {failed.length === 1 ? 'a table' : `${failed.length} tables`} failed after{' '}
        {failed.length === 1 ? 'its' : 'their'} retries. Version {props.progress.version} is kept with the other tables;
        Retry reads only the failed {failed.length === 1 ? 'table' : 'tables'} again and commits, Discard ends the run
        as failed.
        {props.progress.attention && (
          <>
            {' '}
            Left alone, it is discarded <DateTime iso={props.progress.attention.discardAt} />.
          </>
        )}
      </p>
      <ul>
        {failed.map((t) => (
          <li key={t.table} data-testid={`failed-${t.table}`}>
            <strong>{t.table}</strong>: <span class="error-text">{t.error}</span>
          </li>
        ))}
      </ul>
      <p class="toolbar">
        <button type="button" class="btn btn-primary" onClick={props.onRetry}>
          Retry
        </button>
        <button type="button" class="btn btn-danger-outline" onClick={props.onDiscard}>
          Discard
        </button>
      </p>
    </div>
  );
}

export function RunProgress({ progress }: { progress: RunProgressView }) {
  return (
    <section class="section" aria-labelledby="progress-heading">
      <h2 id="progress-heading">
        {progress.phase === 'needs-attention' ? 'Run needs attention' : 'Run in progress'}
        {progress.version ? ` · version ${progress.version}` : ''} <span class="muted small">({progress.phase})</span>
      </h2>
      <ProgressSummary progress={progress} />
      <DataTable
        columns={COLUMNS}
        rows={progress.tables}
        region="Tables of the run"
        row={(t) => (
          <tr key={t.table} data-testid={`progress-${t.table}`}>
            <th scope="row">{t.table}</th>
            <td>
              <span class={`state state-${t.state}`}>{t.state}</span>
            </td>
            <td class="num">{formatNumber(t.rows)}</td>
            <td class="num">{formatNumber(t.pages)}</td>
            <td>
              {t.retrying && <span class="warn-text">{t.retrying}</span>}
              {t.error && <span class="error-text">{t.error}</span>}
            </td>
          </tr>
        )}
      />
    </section>
  );
}

const COLUMNS: Column[] = ['Table', 'State', { label: 'Rows', num: true }, { label: 'Pages', num: true }, 'Notes'];
