import type { Entity } from '../warehouse/entities';
import { reportQuotaWaitWords, type RunResult } from '../shared/operations';
import type { Dataflow } from '../control-plane/dataflows';
import type { DataflowListRow, LiveProgress, TableRow } from './dataflow-api';
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
  return `[${progress.phase}${progress.version ? ` v${progress.version}` : ''}] ${tables}${quotaWaitText(progress)}`;
}

/** ` — waiting for Klaviyo's daily report quota until <time> (tables)` while the run waits for it, else ''. */
function quotaWaitText(progress: LiveProgress): string {
  const wait = progress.quotaWait;
  return wait ? ` — ${reportQuotaWaitWords(wait.until)} (${wait.tables.join(', ')})` : '';
}

/**
 * `dataflow run --wait` on a terminal: a header line and one line per running table (rows, pages, rows/s,
 * state or why it is retried), redrawn in place. Keeps the previous sample of each table for its rate.
 */
export class ProgressBoard {
  private readonly samples = new Map<string, { rows: number; at: number; rate: number }>();

  lines(progress: LiveProgress, now = Date.now()): string[] {
    const done = progress.tables.filter((t) => t.state === 'done').length;
    const failed = progress.tables.filter((t) => t.state === 'failed').length;
    const header =
      `[${progress.phase}${progress.version ? ` v${progress.version}` : ''}] ` +
      `${done}/${progress.tables.length} tables done${failed ? `, ${failed} failed` : ''}${quotaWaitText(progress)}`;
    const running = progress.tables.filter((t) => t.state === 'running');
    const width = Math.max(0, ...running.map((t) => t.table.length));
    const rows = running.map((t) => {
      const previous = this.samples.get(t.table);
      const seconds = previous ? (now - previous.at) / 1000 : 0;
      const rate = previous && seconds > 0 ? Math.max(0, (t.rows - previous.rows) / seconds) : (previous?.rate ?? 0);
      this.samples.set(t.table, { rows: t.rows, at: now, rate });
      const state = t.retrying ? `retrying: ${t.retrying}` : 'running';
      return `  ${t.table.padEnd(width)}  ${String(t.rows).padStart(9)} rows  ${String(t.pages).padStart(6)} pages  ${String(Math.round(rate)).padStart(7)} rows/s  ${state}`;
    });
    return [header, ...rows];
  }
}

/** ANSI: the cursor up `lines` lines and everything below it erased, so the next lines replace the last ones. */
export function eraseLines(lines: number): string {
  return lines > 0 ? `\x1b[${lines}F\x1b[J` : '';
}

/** The outcome of `dataflow run --wait`: the committed version, rows and pages per table, notices. */
export function renderRunResult(result: RunResult): string {
  if (result.skipped) return `${result.skipped} Nothing was imported.`;
  return [
    `Committed version ${result.version} of ${result.dataflow}.`,
    renderTable(
      ['Table', 'Rows', 'Pages', 'Read', 'Deleted'],
      result.tables.map((t) => [
        t.table,
        t.rows,
        t.pages,
        t.incremental
          ? `${t.incremental.rowsRead} changed since ${t.incremental.since}, rest from v${t.incremental.fromVersion}`
          : 'in full',
        // Only a deletion sweep counts them; a full read leaves deleted rows out without counting.
        t.deleted === undefined ? '' : t.deleted,
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
    'Last Error',
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
    shorten(r.lastError, 60),
  ];
  return [...groupRows(rows, groupBy)]
    .map(([key, members]) => (groupBy ? `${groupBy}: ${key}\n` : '') + renderTable(headers, members.map(toRow)))
    .join('\n\n');
}

/** A message on one line of at most `max` characters, ending in `…` when cut. */
export function shorten(text: string | null | undefined, max: number): string {
  if (!text) return '';
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** `dataflow show <name>`: every setting of one dataflow a person may see, the key masked. */
export function renderDataflow(
  d: Dataflow & Partial<Pick<DataflowListRow, 'scheduleSpec' | 'schedulePaused' | 'nextRun'>>,
  apiKeyMask: string,
): string {
  const schedule = d.scheduleSpec
    ? `${d.scheduleSpec}${d.schedulePaused ? ' (paused)' : d.nextRun ? `, next run ${formatTime(d.nextRun)}` : ''}`
    : 'none';
  const fields: Array<[string, string]> = [
    ['Name', d.name],
    ['Display name', d.displayName],
    ['Description', d.description || '(none)'],
    ['Type', d.connectorType],
    ['Status', d.status],
    ['Base URL', d.baseUrl],
    ['API key', apiKeyMask],
    ['Tables', `${d.tablesCount} selected`],
    ['Version', d.currentVersion === null ? 'none committed yet' : String(d.currentVersion)],
    ['Schedule', schedule],
    ['Deletion sweep', deletionSweepText(d.deletionSweep)],
    ['Created', formatTime(d.createdAt)],
    ['Updated', formatTime(d.updatedAt)],
    ['Last refresh', formatTime(d.lastRefreshAt) || 'never'],
    ...(d.lastError ? ([['Last error', d.lastError]] as Array<[string, string]>) : []),
  ];
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n');
}

/** How the deletion-sweep setting reads (cheap sweeps run with every refresh whatever it says, but `off`). */
function deletionSweepText(sweep: Dataflow['deletionSweep']): string {
  return sweep === 'off'
    ? 'off (rows deleted in Klaviyo stay until a full run)'
    : sweep === 'every-run'
      ? 'every run'
      : `${sweep}, cheap tables every run`;
}

/** `dataflow tables <name>`: a table the key cannot read says so, and which scopes it needs. */
export function renderTables(rows: TableRow[]): string {
  return renderTable(
    ['Purpose', 'Name', 'Type', 'Selected', 'Fields'],
    rows.map((r) => [
      r.purpose,
      r.name,
      r.type,
      !r.readable ? `unreadable (needs ${r.missingScopes.join(', ')})` : r.selected ? 'yes' : 'no',
      `${r.fieldsSelected}/${r.fieldsTotal}`,
    ]),
  );
}

/** `dataflow tables <name> --fields`: every field of every table, `*` before the selected ones. */
export function renderTableFields(rows: TableRow[]): string {
  return (
    rows
      .map((r) => {
        const selected = new Set(r.selectedFields);
        const state = !r.readable
          ? `unreadable (needs ${r.missingScopes.join(', ')})`
          : r.selected
            ? 'selected'
            : 'not selected';
        const fields = r.availableFields.map((f) => `  ${selected.has(f.name) ? '*' : ' '} ${f.name} (${f.type})`);
        return [
          `${r.name}: ${state}, ${r.fieldsSelected}/${r.fieldsTotal} fields`,
          ...(fields.length ? fields : ['    (ids only)']),
        ].join('\n');
      })
      .join('\n\n') + '\n\n* = selected'
  );
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
    ['Operation', 'Trigger', 'Status', 'Version', 'Start', 'End', 'Duration', 'Rows', 'Error / note'],
    runs.map((r) => [
      r.operation,
      r.trigger,
      r.status,
      r.fromVersion !== undefined && r.toVersion !== undefined ? `${r.fromVersion} → ${r.toVersion}` : r.version,
      formatTime(r.start),
      formatTime(r.end),
      formatDuration(r.durationMs),
      r.tables.length === 0 ? '' : `${r.tables.reduce((sum, t) => sum + t.rows, 0)} in ${r.tables.length} tables`,
      r.error ?? (r.operation === 'rollback' ? null : r.description),
    ]),
  );
  // Rows per table below the summary: 43 tables in one cell would make the table unreadable.
  const perTable = runs
    .filter((r) => r.tables.length > 0)
    .map(
      (r) =>
        `${r.operation} ${formatTime(r.start)}${r.version ? ` (v${r.version})` : ''}:\n${wrap(
          r.tables.map((t) => `${t.table}=${t.rows}${t.deleted ? ` (${t.deleted} deleted)` : ''}`),
          116,
        )}`,
    );
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
