import type { EndToEndFigures } from './end-to-end';
import type { LimitsFigures } from './limits-run';
import { formatMetrics } from './metrics-scrape';

/** The bench's printed result: plain text tables, one line per figure the issue asks for. */

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = (n: number) => n.toFixed(1);
const mb = (n: number | null) => (n === null ? 'n/a' : `${Math.round(n)} MB`);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * Where a floor did not do the engine's work: floor (a) missing a table or fetching more pages than the engine read
 * (the engine would have skipped some), or floor (b) copying another number of rows than the engine loaded. A ratio
 * against such a floor means nothing. An engine that read more pages than the floor (a sliced read re-reads part of the
 * page it cut a slice at) pays for them in its own time, so the ratio stands.
 */
export function floorMismatches(figures: EndToEndFigures): string[] {
  const { run, httpFloor, copyFloor } = figures;
  return run.result.tables.flatMap((t) => {
    const http = httpFloor.tables.find((h) => h.table === t.table);
    const copy = copyFloor.tables.find((c) => c.table === t.table);
    return [
      ...(http && http.pages <= t.pages
        ? []
        : [`${t.table}: floor (a) ${http?.pages ?? 'no'} pages, engine ${t.pages}`]),
      ...(copy?.rows === t.rows ? [] : [`${t.table}: floor (b) ${copy?.rows ?? 'no'} rows, engine ${t.rows}`]),
    ];
  });
}

/** end-to-end / max(floor a, floor b). */
export function floorRatio(figures: EndToEndFigures): number {
  return figures.run.seconds / Math.max(figures.httpFloor.seconds, figures.copyFloor.seconds);
}

export function formatEndToEnd(figures: EndToEndFigures, sizes: { profiles: number; events: number }): string {
  const { run, httpFloor, copyFloor, worker } = figures;
  const rows = run.result.tables.map((t) => {
    const seconds = run.tableSeconds[t.table] ?? NaN;
    const http = httpFloor.tables.find((h) => h.table === t.table);
    const copy = copyFloor.tables.find((c) => c.table === t.table);
    return [
      t.table,
      int(t.rows),
      int(t.pages),
      int(t.bytes / 2 ** 20),
      sec(seconds),
      int(t.rows / seconds),
      http ? sec(http.seconds) : '-',
      http ? int(http.pages) : '-',
      copy ? sec(copy.seconds) : '-',
      copy ? int(copy.rows) : '-',
    ];
  });
  const totalRows = run.result.tables.reduce((n, t) => n + t.rows, 0);
  const totalPages = run.result.tables.reduce((n, t) => n + t.pages, 0);
  const totalBytes = run.result.tables.reduce((n, t) => n + t.bytes, 0);
  rows.push([
    'total (wall)',
    int(totalRows),
    int(totalPages),
    int(totalBytes / 2 ** 20),
    sec(run.seconds),
    int(totalRows / run.seconds),
    sec(httpFloor.seconds),
    int(httpFloor.tables.reduce((n, t) => n + t.pages, 0)),
    sec(copyFloor.seconds),
    int(copyFloor.tables.reduce((n, t) => n + t.rows, 0)),
  ]);
  const ratio = floorRatio(figures);
  const mismatches = floorMismatches(figures);
  const larger = httpFloor.seconds >= copyFloor.seconds ? 'a' : 'b';
  return [
    `END TO END — ${int(sizes.profiles)} profiles, ${int(sizes.events)} events (sandbox limits off)`,
    table(
      ['table', 'rows', 'pages', 'MB', 'e2e s', 'rows/s', 'floor(a) s', '(a) pages', 'floor(b) s', '(b) rows'],
      rows,
    ),
    '',
    'floor (a): the same pages (fields, page size) over a bare keep-alive HTTP loop that discards the bodies,',
    '           one sequential loop per table, all tables at once (as the engine runs them)',
    'floor (b): the same rows and columns as COPY text, bare COPY into tables without key or index,',
    '           one connection per table, all tables at once',
    `e2e s per table: extractTable scheduled → completed (workflow history); total: run started → result`,
    mismatches.length > 0
      ? `RATIO not given: the floors did not do the engine's work (${mismatches.join('; ')})`
      : `RATIO end-to-end / max(floor a, floor b) = ${sec(run.seconds)} / ${sec(Math.max(httpFloor.seconds, copyFloor.seconds))} (floor ${larger}) = ${ratio.toFixed(2)}  (target ≤ 1.5: ${ratio <= 1.5 ? 'met' : 'NOT met'})`,
    `WORKER PEAK RSS during the run: ${mb(worker.runPeakMb)}  (max RSS first half ${mb(worker.firstHalfMaxMb)}, second half ${mb(worker.secondHalfMaxMb)}; start-up peak ${mb(worker.startupPeakMb)})`,
    formatMetrics(figures.metrics),
  ].join('\n');
}

export function formatLimits(figures: LimitsFigures): string {
  const rows = figures.tiers.map((t) => [
    t.tier,
    t.tables.join(','),
    int(t.requests),
    int(t.throttled),
    sec(t.busySeconds),
    String(t.minutes),
    t.perMinute.toFixed(1),
    int(t.steadyLimit),
    `${(t.share * 100).toFixed(1)}%`,
  ]);
  const below = figures.tiers.filter((t) => t.share < 0.9).map((t) => t.tier);
  return [
    `UNDER KLAVIYO'S LIMITS (sandbox limits on, scale 1; worker budget on) — run ${figures.outcome} in ${sec(figures.seconds)} s, ${int(figures.throttled)} answers were 429`,
    table(['tier', 'tables', 'requests', '429s', 'busy s', 'minutes', 'req/min', 'steady/min', '% of steady'], rows),
    "req/min: requests answered in the whole minutes since the tier's first request (busy time when under a minute)",
    `RATE PER TIER ≥ 90% of steady: ${below.length === 0 ? 'met' : `NOT met for ${below.join(', ')}`}; run ended on a 429: ${figures.outcome.includes('429') || figures.outcome.toLowerCase().includes('throttl') ? 'YES' : 'no'}`,
    `rows: ${Object.entries(figures.rows)
      .map(([t, n]) => `${t} ${int(n)}`)
      .join(', ')}`,
  ].join('\n');
}
