import { useEffect, useRef, useState } from 'preact/hooks';
import type {
  DataflowView,
  EntityPreview,
  EntityView,
  HistoryRecord,
  RunProgressView,
  SessionInfo,
} from '../../api-types';
import { api, enc } from '../api';
import { ErrorAlert, Notice } from '../components/alert';
import { useDataflowActions } from '../components/dataflow-actions';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { ExternalLink } from '../components/link';
import { ProgressSummary } from '../components/progress';
import { StatusPill } from '../components/status';
import { DateTime } from '../components/time';
import { formatNumber, isIsoDateTime } from '../format';
import { usePolled, useTitle } from '../hooks';
import { dataflowPath, navigate } from '../router';

/** A dataflow: what it is, its run in progress (live), its entities with a preview of each. */
export function DataflowPage({ name }: { name: string; session: SessionInfo | null }) {
  useTitle(name);
  const base = `/api/dataflows/${enc(name)}`;
  const view = usePolled<DataflowView>(base, (v) => (v?.status === 'Running' ? 3000 : 15000));
  // A run waiting for a decision changes only when someone decides: no need to ask every second.
  const progress = usePolled<RunProgressView | null>(`${base}/progress`, (p) =>
    p ? (p.phase === 'needs-attention' ? 5000 : 1000) : 5000,
  );
  const entities = usePolled<EntityView[]>(`${base}/entities`);
  const history = usePolled<HistoryRecord[]>(`${base}/history`);
  const [full, setFull] = useState(false);
  const actions = useDataflowActions(
    () => {
      void view.reload();
      void progress.reload();
      void history.reload();
      void entities.reload();
    },
    () => navigate('/imports'),
  );

  // When a run ends, what it changed shows: the status, the entities and the history.
  const wasRunning = useRef(false);
  const running = Boolean(progress.data);
  useEffect(() => {
    if (wasRunning.current && !running) {
      void view.reload();
      void entities.reload();
      void history.reload();
    }
    if (running && !wasRunning.current) void history.reload();
    wasRunning.current = running;
  }, [running]);

  const v = view.data;
  const busy = running || v?.status === 'Running' || v?.status === 'NeedsAttention';
  const attention = progress.data?.phase === 'needs-attention' ? progress.data : null;
  const runUrl = progress.data?.url ?? history.data?.[0]?.url ?? null;

  if (view.error && !v) {
    return (
      <>
        <Breadcrumbs items={[{ label: name }]} />
        <PageHeading>{name}</PageHeading>
        <ErrorAlert error={view.error} />
        <p>
          <button type="button" class="btn" onClick={() => navigate('/imports')}>
            Back to Imports
          </button>
        </p>
      </>
    );
  }

  return (
    <>
      <Breadcrumbs items={[{ label: name }]} />
      <PageHeading
        sub={v && <StatusPill status={attention ? 'NeedsAttention' : busy && running ? 'Running' : v.status} />}
      >
        {v?.displayName ?? name}
      </PageHeading>
      {!v ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <dl class="facts facts-grid">
            <div>
              <dt>Name</dt>
              <dd>{v.name}</dd>
            </div>
            <div>
              <dt>Type</dt>
              <dd>{v.type}</dd>
            </div>
            <div>
              <dt>API key</dt>
              <dd>
                <code>{v.apiKey}</code>
              </dd>
            </div>
            <div>
              <dt>Tables</dt>
              <dd>{v.tablesCount}</dd>
            </div>
            <div>
              <dt>Live version</dt>
              <dd>{v.currentVersion ?? <span class="muted">none yet</span>}</dd>
            </div>
            <div>
              <dt>Last refresh</dt>
              <dd>
                <DateTime iso={v.lastRefresh} empty="Never" />
              </dd>
            </div>
            <div>
              <dt>Schedule</dt>
              <dd>
                {v.schedule ? (
                  <>
                    {v.schedule.spec}
                    {v.schedule.paused ? (
                      ' (paused)'
                    ) : v.schedule.nextRun ? (
                      <>
                        , next <DateTime iso={v.schedule.nextRun} />
                      </>
                    ) : null}
                  </>
                ) : (
                  <span class="muted">Not scheduled</span>
                )}
              </dd>
            </div>
            <div class="wide">
              <dt>Description</dt>
              <dd>{v.description || <span class="muted">No description</span>}</dd>
            </div>
          </dl>
          {v.status === 'Failed' && v.lastError && !busy && (
            <div class="alert alert-error">
              <p>
                <strong>Last run failed:</strong> {v.lastError}
              </p>
            </div>
          )}
          {attention && (
            <NeedsAttentionAlert
              progress={attention}
              onRetry={() => void actions.retry(name)}
              onDiscard={() => void actions.discard(name)}
            />
          )}
          <div class="toolbar actions-bar">
            <button type="button" class="btn btn-primary" disabled={busy} onClick={() => void actions.run(name, full)}>
              Run
            </button>
            <label class="check-inline">
              <input type="checkbox" checked={full} onChange={(e) => setFull(e.currentTarget.checked)} /> Full read
            </label>
            {busy && !attention && (
              <button type="button" class="btn" onClick={() => void actions.cancel(name)}>
                Cancel
              </button>
            )}
            <button type="button" class="btn" onClick={() => navigate(dataflowPath(name, 'edit'))}>
              Edit
            </button>
            <button type="button" class="btn" onClick={() => actions.askRollback(name, v.displayName)}>
              Rollback
            </button>
            <button type="button" class="btn" onClick={() => navigate(dataflowPath(name, 'history'))}>
              Run History
            </button>
            <button type="button" class="btn" onClick={() => navigate(dataflowPath(name, 'schedule'))}>
              Schedule
            </button>
            <button type="button" class="btn btn-danger-outline" onClick={() => actions.askRemove(name, v.displayName)}>
              Remove
            </button>
            <span class="spacer" />
            {runUrl && (
              <ExternalLink href={runUrl}>
                {running ? 'Open in Temporal Web UI' : 'Open in Temporal Web UI'}
              </ExternalLink>
            )}
          </div>
          <ErrorAlert error={actions.error} />
          <Notice text={actions.notice} />
        </>
      )}
      {progress.data && <RunProgress progress={progress.data} />}
      <EntitiesSection name={name} entities={entities.data} error={entities.error} loading={entities.loading} />
      {actions.dialog}
    </>
  );
}

/**
 * A run whose tables failed for good waits with its version kept: which tables failed and why, and the two ways
 * on. Retry re-reads only the failed tables; Discard (or the wait running out) ends the run as failed.
 */
function NeedsAttentionAlert(props: { progress: RunProgressView; onRetry: () => void; onDiscard: () => void }) {
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

function RunProgress({ progress }: { progress: RunProgressView }) {
  return (
    <section class="section" aria-labelledby="progress-heading">
      <h2 id="progress-heading">
        {progress.phase === 'needs-attention' ? 'Run needs attention' : 'Run in progress'}
        {progress.version ? ` · version ${progress.version}` : ''} <span class="muted small">({progress.phase})</span>
      </h2>
      <ProgressSummary progress={progress} />
      <div class="table-scroll" tabIndex={0} role="region" aria-label="Tables of the run">
        <table class="data-table">
          <thead>
            <tr>
              <th scope="col">Table</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                Rows
              </th>
              <th scope="col" class="num">
                Pages
              </th>
              <th scope="col">Notes</th>
            </tr>
          </thead>
          <tbody>
            {progress.tables.map((t) => (
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
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function EntitiesSection(props: {
  name: string;
  entities: EntityView[] | undefined;
  error: Error | null;
  loading: boolean;
}) {
  const [preview, setPreview] = useState<{ table: string; data?: EntityPreview; error?: unknown } | null>(null);
  const previewHeading = useRef<HTMLHeadingElement>(null);

  const open = async (table: string) => {
    setPreview({ table });
    try {
      const data = await api.get<EntityPreview>(
        `/api/dataflows/${enc(props.name)}/entities/${encodeURIComponent(table)}/preview`,
      );
      setPreview({ table, data });
    } catch (error) {
      setPreview({ table, error });
    }
  };

  useEffect(() => {
    if (preview && !preview.data && !preview.error) previewHeading.current?.focus();
  }, [preview?.table]);

  return (
    <section class="section" aria-labelledby="entities-heading">
      <h2 id="entities-heading">Entities</h2>
      <ErrorAlert error={props.entities ? null : props.error} />
      {props.loading && !props.entities ? (
        <p class="muted">Loading…</p>
      ) : props.entities && props.entities.length === 0 ? (
        <p class="empty">No committed tables yet. Run the dataflow to import its tables.</p>
      ) : props.entities ? (
        <div class="table-scroll">
          <table class="data-table">
            <thead>
              <tr>
                <th scope="col">Table</th>
                <th scope="col" class="num">
                  Rows
                </th>
                <th scope="col" class="num">
                  Version
                </th>
                <th scope="col">Preview</th>
              </tr>
            </thead>
            <tbody>
              {props.entities.map((e) => (
                <tr key={e.table} data-testid={`entity-${e.table}`}>
                  <th scope="row">
                    <code>{e.view}</code>
                  </th>
                  <td class="num">{formatNumber(e.rows)}</td>
                  <td class="num">{e.version ?? '—'}</td>
                  <td>
                    <button
                      type="button"
                      class="btn btn-small"
                      aria-label={`Preview ${e.table}`}
                      onClick={() => void open(e.table)}
                    >
                      Preview
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {preview && (
        <section class="section preview" aria-labelledby="preview-heading">
          <div class="section-head">
            <h3 id="preview-heading" ref={previewHeading} tabIndex={-1}>
              Preview of {preview.table}
              {preview.data?.version ? ` (version ${preview.data.version})` : ''}
            </h3>
            <button type="button" class="btn btn-small" onClick={() => setPreview(null)}>
              Close preview
            </button>
          </div>
          <ErrorAlert error={preview.error} />
          {!preview.data && !preview.error && <p class="muted">Loading…</p>}
          {preview.data && <PreviewTable preview={preview.data} />}
        </section>
      )}
    </section>
  );
}

function PreviewTable({ preview }: { preview: EntityPreview }) {
  if (preview.rows.length === 0) return <p class="empty">{preview.table} has no rows.</p>;
  return (
    <>
      <p class="muted small">
        The first {preview.rows.length} rows of the live version{preview.rows.length >= 50 ? ' (at most 50)' : ''}.
      </p>
      <div class="table-scroll preview-scroll" tabIndex={0} role="region" aria-label={`Rows of ${preview.table}`}>
        <table class="data-table compact">
          <thead>
            <tr>
              {preview.columns.map((c) => (
                <th scope="col" key={c}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rows.map((row, i) => (
              <tr key={i}>
                {preview.columns.map((c) => (
                  <td key={c}>
                    <Cell value={row[c]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Cell({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">null</span>;
  if (typeof value === 'string') {
    if (isIsoDateTime(value)) return <DateTime iso={value} />;
    return (
      <span class="cell-text" title={value.length > 60 ? value : undefined}>
        {value}
      </span>
    );
  }
  if (typeof value === 'number' || typeof value === 'boolean') return <>{String(value)}</>;
  const json = JSON.stringify(value);
  return (
    <code class="cell-json" title={json.length > 60 ? json : undefined}>
      {json}
    </code>
  );
}
