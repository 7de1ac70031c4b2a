import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { DiscardResult, RetryStarted, StartedOperation } from '../../api-types';
import { api, ApiError, enc } from '../api';
import { ConfirmDialog } from './dialog';

/** `cascade`: the removal was refused for objects others built on the dataflow's tables; confirming drops them too. */
type Pending = { kind: 'rollback' | 'remove'; name: string; displayName: string; cascade?: boolean } | null;

export interface DataflowActions {
  run: (name: string, full?: boolean) => Promise<void>;
  cancel: (name: string) => Promise<void>;
  /** For a run that needs attention: extract its failed tables again (all of them, or `tables`), then commit. */
  retry: (name: string, tables?: string[]) => Promise<void>;
  /** For a run that needs attention: end it as failed; its staged version is dropped, the live one stays. */
  discard: (name: string) => Promise<void>;
  askRollback: (name: string, displayName: string) => void;
  askRemove: (name: string, displayName: string) => void;
  /** The confirmation dialog in flight, to render once in the page. */
  dialog: JSX.Element | null;
  error: unknown;
  notice: string | null;
  clear: () => void;
}

/**
 * Run, Cancel, Rollback and Remove of a dataflow, shared by the list and the dataflow page: the last two ask first.
 * `onChanged` runs after each success (to refresh what the page shows); `onRemoved` after a removal.
 */
export function useDataflowActions(onChanged: () => void, onRemoved?: (name: string) => void): DataflowActions {
  const [pending, setPending] = useState<Pending>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [dialogError, setDialogError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const act = async (work: () => Promise<string>) => {
    setError(null);
    setNotice(null);
    try {
      setNotice(await work());
      onChanged();
    } catch (err) {
      setError(err);
    }
  };

  const confirm = async () => {
    if (!pending) return;
    setBusy(true);
    setDialogError(null);
    setError(null);
    setNotice(null);
    const { kind, name, cascade } = pending;
    try {
      if (kind === 'rollback') {
        const result = await api.post<{ fromVersion: number; toVersion: number }>(
          `/api/dataflows/${enc(name)}/rollback`,
        );
        setNotice(`${name} rolled back from version ${result.fromVersion} to ${result.toVersion}.`);
      } else {
        const result = await api.delete<{ droppedTables: number; droppedDependents?: string[] }>(
          `/api/dataflows/${enc(name)}?confirm=${encodeURIComponent(name)}${cascade ? '&cascade=true' : ''}`,
        );
        // Every version of every table counts: the warehouse keeps the last three of each.
        const dropped = result.droppedTables;
        const also = result.droppedDependents?.length ? ` Also dropped: ${result.droppedDependents.join(', ')}.` : '';
        setNotice(
          `${name} removed: ${dropped} ${dropped === 1 ? 'table' : 'tables'} dropped, all versions included.${also}`,
        );
      }
      setPending(null);
      if (kind === 'remove') onRemoved?.(name);
      onChanged();
    } catch (err) {
      setDialogError(err);
      // Only after the server named what depends on the dataflow is deleting them too offered.
      if (kind === 'remove' && err instanceof ApiError && err.code === 'DependentObjects') {
        setPending({ ...pending, cascade: true });
      }
    } finally {
      setBusy(false);
    }
  };

  const dialog = pending ? (
    <ConfirmDialog
      title={pending.kind === 'remove' ? `Remove ${pending.name}` : `Roll back ${pending.name}`}
      confirmLabel={
        pending.kind === 'remove' ? (pending.cascade ? 'Delete with dependent objects' : 'Delete') : 'Roll back'
      }
      danger={pending.kind === 'remove'}
      busy={busy}
      error={dialogError}
      onConfirm={() => void confirm()}
      onCancel={() => {
        setPending(null);
        setDialogError(null);
      }}
    >
      {pending.kind === 'remove' ? (
        <>
          <p>
            Remove the dataflow <strong>{pending.displayName}</strong> ({pending.name})? Every table of the dataflow is
            deleted from the warehouse, with all its versions, and its schedule is removed.
          </p>
          <p>This cannot be undone.</p>
          {pending.cascade && (
            <p>
              <strong>Delete with dependent objects</strong> also drops the objects named below, which were not created
              by the dataflow.
            </p>
          )}
        </>
      ) : (
        <p>
          Roll back <strong>{pending.displayName}</strong> ({pending.name})? This will bring every table back to the
          previous committed version. Readers see the previous version at once.
        </p>
      )}
    </ConfirmDialog>
  ) : null;

  return {
    run: (name, full) =>
      act(async () => {
        await api.post<StartedOperation>(`/api/dataflows/${enc(name)}/runs`, full ? { full: true } : {});
        return `Run of ${name} started${full ? ' (full read)' : ''}.`;
      }),
    cancel: (name) =>
      act(async () => {
        await api.post<StartedOperation>(`/api/dataflows/${enc(name)}/cancel`);
        return `Cancelling the run of ${name}; the previous version stays live.`;
      }),
    retry: (name, tables) =>
      act(async () => {
        const started = await api.post<RetryStarted>(`/api/dataflows/${enc(name)}/retry`, tables ? { tables } : {});
        return `Retrying ${started.tables.join(', ')} of ${name} into version ${started.version ?? '?'}.`;
      }),
    discard: (name) =>
      act(async () => {
        const result = await api.post<DiscardResult>(`/api/dataflows/${enc(name)}/discard`);
        return `Discarded version ${result.version ?? '?'} of ${name}; the previous version stays live.`;
      }),
    askRollback: (name, displayName) => {
      setDialogError(null);
      setPending({ kind: 'rollback', name, displayName });
    },
    askRemove: (name, displayName) => {
      setDialogError(null);
      setPending({ kind: 'remove', name, displayName });
    },
    dialog,
    error,
    notice,
    clear: () => {
      setError(null);
      setNotice(null);
    },
  };
}
