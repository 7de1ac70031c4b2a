import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { accountCalendar } from '../reports/account-calendar';
import { computeReport } from '../reports/compute-report';
import { REPORT_LIMITS, type ReportEndpoint } from '../reports/endpoints';
import { parseReportRequest } from '../reports/report-request';
import { ApiError, answerOf, methodNotAllowed, requireScopes, serverFault } from './api-error';
import type { ApiContext } from './api-handler';
import { deliver, requestLine } from './delivery';
import type { FaultDecision } from './faults';
import type { ReportLogDetail } from './request-log';
import { checkRevision } from './revisions';

const MAX_BODY_BYTES = 1_000_000;

/**
 * Answers a Reporting API POST the way Klaviyo would: method (405), auth (401), revision (400, 410), the daily quota
 * and the 1/s and 2/min windows (429), scopes (403), the body (400), injected faults (a rule's `table` is the report
 * type, e.g. `flow-series-report`), then the figures. The request log keeps the body's timeframe, filter and
 * interval, so a test can tell what a client asked for.
 */
export async function handleReport(
  ctx: ApiContext,
  endpoint: ReportEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const arrived = new Date().toISOString();
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  let body: unknown;
  let bodyError: ApiError | null = null;
  try {
    body = await readBody(req);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    bodyError = err;
  }

  let status = 200;
  let text: string;
  let headers: Record<string, string> = {};
  let fault: FaultDecision | null = null;
  try {
    text = answer(ctx, endpoint, req, url, body, bodyError, {
      headers: (h) => (headers = h),
      fault: (f) => (fault = f),
    });
  } catch (err) {
    const error = answerOf(err, 'in a report');
    status = error.status;
    text = error.body();
    headers = { ...headers, ...error.headers };
  }

  const facts = {
    ...requestLine(req, url, arrived, 'POST'),
    table: endpoint.type,
    page: null,
    cursor: url.searchParams.get('page_cursor'),
    report: logDetail(body),
  };
  const answered = { status, body: Buffer.from(text), headers, fault: fault as FaultDecision | null };
  await deliver(ctx, req, res, answered, facts, started);
}

function answer(
  ctx: ApiContext,
  endpoint: ReportEndpoint,
  req: IncomingMessage,
  url: URL,
  body: unknown,
  bodyError: ApiError | null,
  set: { headers(headers: Record<string, string>): void; fault(fault: FaultDecision): void },
): string {
  if (req.method !== 'POST') throw methodNotAllowed(req.method ?? '');
  const scopes = ctx.keys.authenticate(req.headers);
  const revision = checkRevision(req.headers.revision, ctx.revisionsAsOf);
  // The daily quota is checked first, so a request it refuses spends none of the minute's budget.
  ctx.reportQuota.check();
  const headers = { ...(ctx.limiter.take(REPORT_LIMITS) ?? {}), ...revision.headers };
  ctx.reportQuota.count();
  set.headers(headers);

  requireScopes(endpoint.scopes, scopes);
  if (bodyError) throw bodyError;
  if (!endpoint.pageCursor && url.searchParams.has('page_cursor'))
    throw new ApiError(400, 'invalid', 'Invalid input.', `${endpoint.path} does not take 'page_cursor'.`, {
      parameter: 'page_cursor',
    });

  const dataset = ctx.dataset;
  const query = parseReportRequest(endpoint, body, {
    nowSec: dataset.state.clockSec,
    calendar: accountCalendar(),
    metricExists: (id) => dataset.metrics.indexOfId(id) !== undefined,
  });
  const fault = ctx.faults.decide(endpoint.type, 1);
  set.fault(fault);
  if (fault.action.kind === 'status') throw serverFault(fault.action.status);
  const report = computeReport(dataset, endpoint, query);
  const base = ctx.baseUrl();
  const self = `${base}${endpoint.path}/`;
  const attributes: Record<string, unknown> = { results: report.results };
  if (endpoint.shape === 'series') attributes.date_times = report.dateTimes;
  const data: Record<string, unknown> = { type: endpoint.type, id: report.id, attributes };
  if (report.related.length > 0) {
    data.relationships = Object.fromEntries(
      report.related.map(({ name, type, ids }) => [
        name,
        {
          data: ids.map((id) => ({ type, id })),
          links: { self: `${self}relationships/${name}/`, related: `${self}${name}/` },
        },
      ]),
    );
  }
  return JSON.stringify({ data, links: { self } });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk as Buffer);
  }
  if (tooLarge) throw new ApiError(400, 'invalid', 'Invalid input.', 'The request body is larger than 1 MB.', {});
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'parse_error', 'Malformed request.', 'The request body is not valid JSON.', {});
  }
}

/** What the log keeps of a report body: its timeframe, filter, interval and group_by, never anything else. */
function logDetail(body: unknown): ReportLogDetail {
  const attributes = (body as { data?: { attributes?: Record<string, unknown> } } | undefined)?.data?.attributes;
  const a = attributes !== null && typeof attributes === 'object' ? attributes : {};
  return {
    timeframe: a.timeframe ?? null,
    filter: typeof a.filter === 'string' ? a.filter : null,
    interval: typeof a.interval === 'string' ? a.interval : null,
    groupBy: Array.isArray(a.group_by) ? (a.group_by as unknown[]).map(String) : null,
    statistics: Array.isArray(a.statistics) ? (a.statistics as unknown[]).map(String) : null,
  };
}
