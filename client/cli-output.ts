import type { Entity } from '../activities/warehouse/entities';
import type { RunResult } from '../shared/operations';
import type { DataflowListRow, LiveProgress } from './dataflow-api';
import type { RunRecord } from './run-history';
import { formatDuration, formatTime, renderTable } from './text-table';

/**
 * The human-readable output of the `dataflow` CLI, as pure functions of what the API returns, so the
 * demo prints exactly what the CLI prints.
 */

export const LIST_GROUP_KEYS = ['name', 'type', 'status'] as const;
export type ListGroupKey = (typeof LIST_GROUP_KEYS)[number];

/** One line per change of a running operation: phase, version, and per table a state mark and its rows. */
export function progressLine(progress: LiveProgress): string {
  const tables = progress.tables
    .map(
      (t) =>
        `${t.table}:${t.state === 'done' ? '✓' : t.state === 'failed' ? '✗' : t.state === 'running' ? '…' : '·'}${t.rows}`,
    )
    .join(' ');
  return `[${progress.phase}${progress.version ? ` v${progress.version}` : ''}] ${tables}`;
}

/** The outcome of `dataflow run --wait`: the committed version, rows and pages per table, notices. */
export function renderRunResult(result: RunResult): string {
  return [
    `Committed version ${result.version} of ${result.dataflow}.`,
    renderTable(
      ['Table', 'Rows', 'Pages', 'Read'],
      result.tables.map((t) => [
        t.table,
        t.rows,
        t.pages,
        t.incremental
          ? `${t.incremental.rowsRead} changed since ${t.incremental.since}, rest from v${t.incremental.fromVersion}`
          : 'in full',
      ]),
    ),
    ...result.notices.map((n) => `note: ${n}`),
  ].join('\n');
}

/** Rows by the value of `groupBy`; one group under the key '' when not grouping. */
export function groupRows(rows: DataflowListRow[], groupBy: ListGroupKey | undefined): Map<string, DataflowListRow[]> {
  const groups = new Map<string, DataflowListRow[]>();
  for (const row of rows) {
    const key =
      groupBy === 'type' ? row.connectorType : groupBy === 'status' ? row.status : groupBy === 'name' ? row.name : '';
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return groups;
}

/** `dataflow list`: one table, or one per group under a `<key>: <value>` heading. */
export function renderDataflowList(rows: DataflowListRow[], groupBy?: ListGroupKey): string {
  if (rows.length === 0) return 'No dataflows yet. Create one with: dataflow create <name> --api-key-stdin';
  const headers = [
    'Name',
    'Type',
    'Status',
    'Tables Count',
    'Created Date',
    'Updated Date',
    'Last Refresh',
    'Next Run',
  ];
  const toRow = (r: DataflowListRow) => [
    r.name,
    r.connectorType,
    r.status,
    r.tablesCount,
    formatTime(r.createdAt),
    formatTime(r.updatedAt),
    formatTime(r.lastRefreshAt),
    r.schedulePaused ? 'paused' : formatTime(r.nextRun),
  ];
  return [...groupRows(rows, groupBy)]
    .map(([key, members]) => (groupBy ? `${groupBy}: ${key}\n` : '') + renderTable(headers, members.map(toRow)))
    .join('\n\n');
}

/** `dataflow entities <name>`: the reader-facing tables with their row counts and versions. */
export function renderEntities(name: string, rows: Entity[]): string {
  return rows.length === 0
    ? `${name} has no committed tables yet: run it with \`dataflow run ${name} --wait\`.`
    : renderTable(
        ['Table', 'Rows', 'Version'],
        rows.map((e) => [e.view, e.rows, e.version]),
      );
}

/** `dataflow history <name>`: one row per operation, newest first, and where the Web UI lists them. */
export function renderHistory(name: string, runs: RunRecord[]): string {
  if (runs.length === 0) return `No runs of ${name} yet.`;
  const summary = renderTable(
    ['Operation', 'Trigger', 'Status', 'Version', 'Start', 'End', 'Duration', 'Rows', 'Error'],
    runs.map((r) => [
      r.operation,
      r.trigger,
      r.status,
      r.version,
      formatTime(r.start),
      formatTime(r.end),
      formatDuration(r.durationMs),
      r.tables.length === 0 ? '' : `${r.tables.reduce((sum, t) => sum + t.rows, 0)} in ${r.tables.length} tables`,
      r.error,
    ]),
  );
  // Rows per table below the summary: 43 tables in one cell would make the table unreadable.
  const perTable = runs
    .filter((r) => r.tables.length > 0)
    .map((r) => `${r.operation} ${formatTime(r.start)}${r.version ? ` (v${r.version})` : ''}:\n${wrap(r.tables.map((t) => `${t.table}=${t.rows}`), 116)}`);
  return [
    summary,
    ...(perTable.length > 0 ? ['', 'Rows per table:', ...perTable] : []),
    '',
    `Each run in the Web UI: ${runs[0].url.replace(/\/workflows\/.*$/, '/workflows')}`,
  ].join('\n');
}

/** Words joined by spaces into indented lines of at most `width` characters. */
function wrap(words: string[], width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => `  ${l}`).join('\n');
}
