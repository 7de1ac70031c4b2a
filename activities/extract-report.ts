import type pg from 'pg';
import type { TableSummary } from '../shared/operations';
import { getCheckpoint, saveCheckpoint } from '../control-plane/extract-checkpoints';
import { withTransaction } from '../control-plane/postgres';
import type { ReportQuotaLedger } from '../control-plane/report-quota';
import {
  ConversionMetricNotFoundError,
  DEFAULT_CONVERSION_METRIC,
  type ReportSettings,
} from '../control-plane/report-settings';
import { getTable } from '../klaviyo/catalog';
import type { KlaviyoClient } from '../klaviyo/klaviyo-client';
import { klaviyoFilter } from '../klaviyo/query';
import { reportSpecOf, type ReportTable } from '../klaviyo/report-catalog';
import {
  FULL_READ_DAYS,
  ReportQuotaExhausted,
  addDays,
  fetchReport,
  planReportRequests,
  reportBody,
  wallDay,
  type ReportRequest,
} from '../klaviyo/reports';
import { encodeRows, loadEncoded, versionTarget } from '../warehouse/copy-loader';
import { qualifiedName, quoteIdent, versionedTableName } from '../warehouse/identifiers';
import { createRowMapper } from '../warehouse/row-mapping';
import { copyForwardVersion } from '../warehouse/copy-forward';
import { addPrimaryKey } from '../warehouse/staged-tables';
import type { ExtractInput } from './extract-table';
import { selectedLayout } from './extract-table';

/**
 * Reads one Reporting API table into the staged version. The requests are planned once (kept in the checkpoint, so
 * a resumed read asks exactly the same): in full, every subject over the last year; as a refresh, only what Klaviyo
 * can still change — campaigns sent within the attribution window plus {@link ATTRIBUTION_MARGIN_DAYS}, and those
 * days of each series — then the rest of version N is copied forward. Each request first takes one request of the
 * account's daily quota (report-quota.ts); when none is left, or Klaviyo answers a 429 asking to wait hours, the read
 * stops where it is and returns `quotaWaitUntil`, and the run waits for it and calls again.
 */

/** Days re-read beyond the attribution window: late events, and a day boundary in another timezone. */
export const ATTRIBUTION_MARGIN_DAYS = 2;

/** The checkpoint part that keeps the plan; each request has its own part, `r<index>`. */
const PLAN_PART = '#plan';

/** What a table's extraction takes, plus the report's settings and the account's daily quota. */
export interface ReportExtractInput extends ExtractInput {
  settings: ReportSettings;
  quota: ReportQuotaLedger;
  /** The account whose daily quota the requests count against. */
  account: string;
}

export interface ReportExtractSummary extends TableSummary {
  /** Set when the daily report quota ran out before every request was made: call again from this time on. */
  quotaWaitUntil?: string;
}

interface ReportPlan {
  requests: ReportRequest[];
  /** What a refresh asks again: these subjects, from this day on (a series) or over the year (values). */
  reread: { ids: string[]; startDay: string } | null;
  /** The subjects of a full read now: rows of others copied forward from version N are left out. */
  subjects: string[];
  fullStartDay: string;
  timeZone: string;
  conversion: { id: string; name: string; notice: string } | null;
}

export function isReportTable(name: string): boolean {
  return reportSpecOf(getTable(name)) !== undefined;
}

export async function extractReport(input: ReportExtractInput): Promise<ReportExtractSummary> {
  const table = getTable(input.selection.table) as ReportTable;
  const layout = selectedLayout(input.selection);
  const target = versionTarget(input.schema, input.version, layout);
  const mapRow = createRowMapper(layout);
  const key = { dataflowId: input.dataflowId, version: input.version, table: table.name };
  const plan = await loadOrMakePlan(input, table);
  const statistics = input.selection.selectedFields;
  const summary: ReportExtractSummary = { table: table.name, rows: 0, pages: 0, bytes: 0 };
  let rowsRead = 0;

  for (const [index, request] of plan.requests.entries()) {
    const part = `r${index}`;
    const checkpoint = await getCheckpoint(input.pool, { ...key, part });
    if (checkpoint?.done) {
      rowsRead += checkpoint.rows;
      summary.pages += checkpoint.pages;
      continue;
    }
    const grant = await input.quota.take(input.account, input.dataflowId);
    if (!grant.granted) return { ...summary, rows: rowsRead, quotaWaitUntil: grant.until.toISOString() };
    let answer: Awaited<ReturnType<typeof fetchReport>>;
    try {
      const body = reportBody(table, request, { statistics, conversionMetricId: plan.conversion?.id });
      answer = await fetchReport(input.client, table, body, input.signal);
    } catch (err) {
      if (!(err instanceof ReportQuotaExhausted)) throw err;
      await input.quota.exhaustedUntil(input.account, err.until);
      return { ...summary, rows: rowsRead, quotaWaitUntil: err.until.toISOString() };
    } finally {
      await input.quota.answered(grant.id);
    }
    const rows = answer.rows.map((resource) => mapRow(resource));
    await withTransaction(input.pool, async (db) => {
      await loadEncoded(
        db,
        target,
        { chunks: [encodeRows(target, rows)], rows: rows.length },
        { onDuplicate: input.incremental ? 'replace' : 'fail' },
      );
      await saveCheckpoint(db, {
        ...key,
        part,
        nextUrl: null,
        rows: rows.length,
        pages: answer.requests,
        done: true,
      });
    });
    rowsRead += rows.length;
    summary.pages += answer.requests;
    summary.bytes += answer.bytes;
    input.onProgress?.({ table: table.name, part, rows: rowsRead, pages: summary.pages, nextUrl: null });
  }

  const finished = await withTransaction(input.pool, async (db) => {
    // A refresh's version N rows were copied forward when it was planned; a full read gets its key now.
    if (!input.incremental) {
      await addPrimaryKey(db, { schema: input.schema, version: input.version, definition: layout });
    }
    const { rows } = await db.query<{ count: string }>(
      `SELECT count(*) AS count FROM ${qualifiedName(input.schema, versionedTableName(table.name, input.version))}`,
    );
    return Number(rows[0].count);
  });
  return {
    ...summary,
    rows: finished,
    ...(input.incremental
      ? { incremental: { fromVersion: input.incremental.fromVersion, since: input.incremental.since, rowsRead } }
      : {}),
    ...(plan.conversion ? { notices: [plan.conversion.notice] } : {}),
  };
}

/** The plan this version's read of the table made, or a new one (saved before any request is made). */
async function loadOrMakePlan(input: ReportExtractInput, table: ReportTable): Promise<ReportPlan> {
  const key = { dataflowId: input.dataflowId, version: input.version, table: table.name, part: PLAN_PART };
  const saved = await getCheckpoint(input.pool, key);
  if (saved?.state) return saved.state as ReportPlan;
  const account = await input.client.getAccount(input.signal);
  const timeZone = account.attributes.timezone ?? 'UTC';
  const today = wallDay(input.client.serverTime() ?? new Date(), timeZone);
  const endDay = addDays(today, 1);
  const fullStartDay = addDays(endDay, -FULL_READ_DAYS);
  const subjects = await listSubjects(input.client, table, [fullStartDay, endDay], timeZone, input.signal);
  const { report } = table;
  const ids = subjects.map((s) => s.id);
  let reread: ReportPlan['reread'] = null;
  if (input.incremental) {
    const window = input.settings.attributionWindowDays + ATTRIBUTION_MARGIN_DAYS;
    const sinceDay = addDays(today, -window);
    if (report.kind === 'series') {
      reread = { ids, startDay: sinceDay > fullStartDay ? sinceDay : fullStartDay };
    } else if (report.subject.table === 'campaigns') {
      // A campaign's figures change only while conversions are still attributed to it: re-ask the recent sends.
      const recent = subjects.filter((s) => s.sentDay !== null && s.sentDay >= sinceDay).map((s) => s.id);
      reread = { ids: recent, startDay: fullStartDay };
    } else {
      // A flow, form or segment keeps sending and changing: its values over the year are asked again (one request
      // per 100 of them).
      reread = { ids, startDay: fullStartDay };
    }
  }
  const requests = planReportRequests(
    table,
    reread ? reread.ids : ids,
    reread ? reread.startDay : fullStartDay,
    endDay,
  );
  const conversion = report.needsConversionMetric
    ? await conversionMetric(input.client, table.name, input.settings.conversionMetric, input.signal)
    : null;
  const plan: ReportPlan = { requests, reread, subjects: ids, fullStartDay, timeZone, conversion };
  await withTransaction(input.pool, async (db) => {
    if (input.incremental) {
      // Version N forward first, less what a full read now would not hold and what is asked again: the answers
      // then say all there is for those subjects and days (a message without events on a day has no row).
      const from = input.incremental.fromVersion;
      await copyForwardVersion(db, { schema: input.schema, table: table.name, from, to: input.version });
      await dropOutOfRange(db, input.schema, input.version, table, plan);
    }
    await saveCheckpoint(db, { ...key, nextUrl: null, rows: 0, pages: 0, done: true, state: plan });
  });
  return plan;
}

/**
 * The ids a report asks about: campaigns sent within the year up to today (a draft, or a send still ahead, has no
 * figures), every flow, form and segment
 * (archived campaigns and flows included, which Klaviyo lists only when asked).
 */
async function listSubjects(
  client: KlaviyoClient,
  table: ReportTable,
  [fullStartDay, endDay]: [string, string],
  timeZone: string,
  signal?: AbortSignal,
): Promise<Array<{ id: string; sentDay: string | null }>> {
  const list = getTable(table.report.subject.table);
  const campaigns = list.name === 'campaigns';
  const passes: Array<{ parentId?: string; filter?: string }> =
    list.requiredFilter?.kind === 'channel'
      ? list.requiredFilter.values.map((channel) => ({ parentId: channel }))
      : [{}];
  const hidden = list.hiddenUnlessFiltered;
  const all = hidden
    ? passes.flatMap((p) => [p, { ...p, filter: klaviyoFilter.equals(hidden.field, hidden.value) }])
    : passes;
  const seen = new Map<string, string | null>();
  for (const pass of all) {
    const fields = campaigns ? ['send_time'] : list.fields.length > 0 ? ['id'] : undefined;
    for await (const page of client.pages({
      table: list,
      parentId: pass.parentId,
      filter: pass.filter,
      fields,
      signal,
    })) {
      for (const resource of page.data) {
        const sent = campaigns ? (resource.attributes?.send_time as string | null | undefined) : null;
        seen.set(resource.id, sent ? wallDay(new Date(sent), timeZone) : null);
      }
    }
  }
  const subjects = [...seen].map(([id, sentDay]) => ({ id, sentDay }));
  // A send time after today is a schedule, not a send: nothing to report yet.
  return campaigns
    ? subjects.filter((s) => s.sentDay !== null && s.sentDay >= fullStartDay && s.sentDay < endDay)
    : subjects;
}

/** The conversion metric of the dataflow's setting (an id or a name; default "Placed Order"), found in /api/metrics. */
async function conversionMetric(
  client: KlaviyoClient,
  table: string,
  setting: string | null,
  signal?: AbortSignal,
): Promise<{ id: string; name: string; notice: string }> {
  const wanted = setting ?? DEFAULT_CONVERSION_METRIC;
  const named: Array<{ id: string; name: string }> = [];
  for await (const page of client.pages({ table: getTable('metrics'), fields: ['name'], signal })) {
    for (const metric of page.data) {
      const name = String(metric.attributes?.name ?? '');
      if (metric.id === wanted) return { id: metric.id, name, notice: conversionNotice(table, name, metric.id) };
      if (name === wanted) named.push({ id: metric.id, name });
    }
  }
  if (named.length === 0) {
    throw new ConversionMetricNotFoundError(
      `"${table}" counts conversions of one metric, and this Klaviyo account has no metric ` +
        `${setting ? `with the id or name "${setting}"` : `named "${DEFAULT_CONVERSION_METRIC}"`}. Choose one with ` +
        '`dataflow edit <name> --conversion-metric <metric id or name>` (`dataflow entities` lists the metrics ' +
        'once the metrics table is imported), or deselect the table.',
    );
  }
  const [first] = named;
  const more = named.length > 1 ? ` (the first of ${named.length} metrics with that name)` : '';
  return { ...first, notice: conversionNotice(table, first.name, first.id) + more };
}

function conversionNotice(table: string, name: string, id: string): string {
  return `${table}: conversions counted on the metric "${name}" (${id})`;
}

/**
 * After a copy forward: rows of subjects a full read would no longer ask about, series days before its year, and
 * the rows the refresh asks for again.
 */
async function dropOutOfRange(
  db: pg.ClientBase,
  schema: string,
  version: number,
  table: ReportTable,
  plan: ReportPlan,
): Promise<void> {
  const target = qualifiedName(schema, versionedTableName(table.name, version));
  const subject = quoteIdent(table.report.subject.attribute);
  await db.query(`DELETE FROM ${target} WHERE NOT (${subject} = ANY($1::text[]))`, [plan.subjects]);
  const day = `(${quoteIdent('date')} AT TIME ZONE $1)::date`;
  if (table.report.kind === 'series') {
    await db.query(`DELETE FROM ${target} WHERE ${day} < $2::date`, [plan.timeZone, plan.fullStartDay]);
  }
  if (!plan.reread) return;
  if (table.report.kind === 'series') {
    await db.query(`DELETE FROM ${target} WHERE ${subject} = ANY($3::text[]) AND ${day} >= $2::date`, [
      plan.timeZone,
      plan.reread.startDay,
      plan.reread.ids,
    ]);
  } else {
    await db.query(`DELETE FROM ${target} WHERE ${subject} = ANY($1::text[])`, [plan.reread.ids]);
  }
}
