import type { RunProgressView } from '../../api-types';
import { formatNumber } from '../format';

/** Counts of a run's progress: tables done of all, rows so far. */
export function progressCounts(progress: RunProgressView): { done: number; total: number; rows: number } {
  return {
    done: progress.tables.filter((t) => t.state === 'done').length,
    total: progress.tables.length,
    rows: progress.tables.reduce((sum, t) => sum + t.rows, 0),
  };
}

/** e.g. "Running · 12 of 43 tables · 12,345 rows" and a progress bar. */
export function ProgressSummary({ progress, operation }: { progress: RunProgressView | null; operation?: string }) {
  if (!progress) {
    return (
      <div class="progress-summary">
        <span>Running{operation && operation !== 'run' ? ` · ${operation}` : ''}</span>
        <progress aria-label={`${operation ?? 'Operation'} in progress`} />
      </div>
    );
  }
  const { done, total, rows } = progressCounts(progress);
  const failed = progress.tables.filter((t) => t.state === 'failed').length;
  const state = progress.phase === 'needs-attention' ? 'Needs attention' : 'Running';
  // Before extraction the run has no tables yet: say what it is doing (validating, discovering).
  const text =
    total === 0
      ? `${state} · ${progress.phase}`
      : `${state} · ${formatNumber(done)} of ${formatNumber(total)} tables` +
        `${failed > 0 ? ` · ${formatNumber(failed)} failed` : ''} · ${formatNumber(rows)} rows`;
  return (
    <div class="progress-summary">
      <span>{text}</span>
      {total > 0 ? (
        <progress value={done} max={total} aria-label={text} />
      ) : (
        <progress aria-label={`${progress.phase}`} />
      )}
    </div>
  );
}
