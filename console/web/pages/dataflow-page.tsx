import { useEffect, useRef, useState } from 'preact/hooks';
import type { DataflowView, EntityView, HistoryRecord, RunProgressView, SessionInfo } from '../../api-types';
import { enc } from '../api';
import { ErrorAlert, Notice } from '../components/alert';
import { useDataflowActions } from '../components/dataflow-actions';
import { Fact, Facts } from '../components/facts';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { ExternalLink, NavButton } from '../components/link';
import { StatusPill } from '../components/status';
import { DateTime } from '../components/time';
import { usePolled, useTitle } from '../hooks';
import { dataflowPath, navigate } from '../router';
import { EntitiesSection } from './dataflow-entities';
import { NeedsAttentionAlert, RunProgress } from './dataflow-run-progress';

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
          <NavButton to={'/imports'}>Back to Imports</NavButton>
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
          <Facts grid>
            <Fact label="Name">{v.name}</Fact>
            <Fact label="Type">{v.type}</Fact>
            <Fact label="API key">
              <code>{v.apiKey}</code>
            </Fact>
            <Fact label="Tables">{v.tablesCount}</Fact>
            <Fact label="Live version">{v.currentVersion ?? <span class="muted">none yet</span>}</Fact>
            <Fact label="Last refresh">
              <DateTime iso={v.lastRefresh} empty="Never" />
            </Fact>
            <Fact label="Schedule">
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
            </Fact>
            <Fact label="Description" wide>
              {v.description || <span class="muted">No description</span>}
            </Fact>
          </Facts>
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
            <NavButton to={dataflowPath(name, 'edit')}>Edit</NavButton>
            <button type="button" class="btn" onClick={() => actions.askRollback(name, v.displayName)}>
              Rollback
            </button>
            <NavButton to={dataflowPath(name, 'history')}>Run History</NavButton>
            <NavButton to={dataflowPath(name, 'schedule')}>Schedule</NavButton>
            <button type="button" class="btn btn-danger-outline" onClick={() => actions.askRemove(name, v.displayName)}>
              Remove
            </button>
            <span class="spacer" />
            {runUrl && <ExternalLink href={runUrl}>Open in Temporal Web UI</ExternalLink>}
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
