import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { CATALOG, RATE_TIERS, type CatalogTable } from '../../klaviyo/catalog';
import type { Dataset } from '../data/dataset';
import { encodeCursor } from '../query/cursor';
import { readPage } from '../query/page-reader';
import { ApiError, answerOf, methodNotAllowed, notFound, requireScopes, serverFault } from './api-error';
import type { ApiKeys } from './api-keys';
import { deliver, requestLine } from './delivery';
import { buildEnvelope, buildObjectDocument } from './envelope';
import type { FaultDecision, FaultInjector } from './faults';
import type { LatencyModel } from './latency';
import { parseListRequest } from './list-request';
import { matchObjectRoute, objectRequestTable, RECIPIENT_ESTIMATION_TYPE, type ObjectRoute } from './object-routes';
import type { RateLimiter, Limits } from './rate-limiter';
import { handleReport } from './report-handler';
import type { ReportQuota } from './report-quota';
import type { RequestLog } from './request-log';
import { checkRevision } from './revisions';
import { matchRoute } from './routes';
import { matchReportRoute } from '../reports/endpoints';

export interface ApiContext {
  dataset: Dataset;
  keys: ApiKeys;
  limiter: RateLimiter;
  faults: FaultInjector;
  /** Holds every answer back as the internet would (off unless set). */
  latency?: LatencyModel;
  log: RequestLog;
  /** The Reporting API's daily quota (always counted). */
  reportQuota: ReportQuota;
  /** The day the `revision` header is judged on (YYYY-MM-DD): which revisions are deprecated or retired. */
  revisionsAsOf: string;
  baseUrl(): string;
}

/** Scopes of resource types reached through `include` that no catalog table serves. */
const OTHER_TYPE_SCOPES: Record<string, string[]> = {
  attribution: ['events:read'],
  conversation: ['conversations:read'],
  'object-schema': ['custom-objects:read'],
};

interface Outcome {
  status: number;
  body: Buffer;
  headers: Record<string, string>;
  table: string | null;
  page: number | null;
  cursor: string | null;
  fault: FaultDecision | null;
}

/**
 * Answers one `/api/...` request the way Klaviyo would: route, auth (401), revision (400, 410 when retired), rate
 * limit (429), scopes (403), parameters (400), parent or object (404), injected faults, then the page or object.
 */
export async function handleApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const arrived = new Date().toISOString();
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  // The Reporting API's POSTs have their own flow: a JSON body, a daily quota (http/report-handler.ts).
  const report = matchReportRoute(url.pathname);
  if (report) return handleReport(ctx, report, req, res);
  let outcome: Outcome;
  try {
    outcome = answer(ctx, req, url);
  } catch (err) {
    const error = answerOf(err, 'in an answer');
    outcome = {
      status: error.status,
      body: Buffer.from(error.body()),
      headers: error.headers,
      table: routeName(url.pathname),
      page: null,
      cursor: null,
      fault: null,
    };
  }

  const facts = {
    ...requestLine(req, url, arrived, 'GET'),
    table: outcome.table,
    page: outcome.page,
    cursor: outcome.cursor,
  };
  await deliver(ctx, req, res, outcome, facts, started);
}

/** The catalog table or object type a path asks for, for the request log. */
function routeName(pathname: string): string | null {
  const route = matchRoute(pathname);
  if (route) return route.table.name;
  const object = matchObjectRoute(pathname);
  return object ? `${object.route.type} (object)` : null;
}

function answer(ctx: ApiContext, req: IncomingMessage, url: URL): Outcome {
  const route = matchRoute(url.pathname);
  const object = route ? null : matchObjectRoute(url.pathname);
  if (!route && !object) throw notFound(`The path ${url.pathname} could not be found.`);
  if (req.method !== 'GET') throw methodNotAllowed(req.method ?? '');
  const scopes = ctx.keys.authenticate(req.headers);
  const revision = checkRevision(req.headers.revision, ctx.revisionsAsOf);

  const params = url.searchParams;
  const limits = route
    ? limitsOf(RATE_TIERS[route.table.tier], route.table.tierVariants, params)
    : limitsOf(object!.route, object!.route.tierVariants, params);
  // A deprecated revision's answers all say so, errors after this point included.
  const headers = { ...(ctx.limiter.take(limits) ?? {}), ...revision.headers };
  try {
    if (route) return serve(ctx, route.table, route.parentId, scopes, url, headers);
    return serveObject(ctx, object!.route, object!.id, scopes, url, headers);
  } catch (err) {
    // 4xx answers after the rate limit counted the request still say how much budget is left.
    if (err instanceof ApiError)
      throw new ApiError(err.status, err.code, err.title, err.detail, err.source, { ...headers, ...err.headers });
    throw err;
  }
}

/** A single-object GET: the resource (or recipient estimation) with that id, or 404. */
function serveObject(
  ctx: ApiContext,
  route: ObjectRoute,
  id: string,
  scopes: ReadonlySet<string>,
  url: URL,
  headers: Record<string, string>,
): Outcome {
  requireScopes(route.scopes, scopes);
  const table = objectRequestTable(route);
  const parsed = parseListRequest(table, url.searchParams, null);
  checkIncludeScopes(table, parsed.include, scopes);
  const request = { ...parsed, additionalFields: [...parsed.additionalFields, ...route.objectFields] };
  const resource =
    route.type === RECIPIENT_ESTIMATION_TYPE
      ? ctx.dataset.recipientEstimation(id)
      : ctx.dataset.resource(route.type, id);
  if (!resource) throw notFound(`No ${route.type.replace(/-/g, ' ')} with id ${id} exists.`);
  const body = buildObjectDocument({
    baseUrl: ctx.baseUrl(),
    request,
    resource,
    selfUrl: `${ctx.baseUrl()}${url.pathname}`,
  });
  return {
    status: 200,
    body: Buffer.from(body),
    headers,
    table: `${route.type} (object)`,
    page: null,
    cursor: null,
    fault: null,
  };
}

function checkIncludeScopes(table: CatalogTable, include: string[], scopes: ReadonlySet<string>): void {
  const includeScopes = include.flatMap((name) => {
    const type = table.relationships.find((r) => r.name === name)?.type ?? name;
    return scopesOfType(type);
  });
  requireScopes([...new Set(includeScopes)], scopes);
}

function serve(
  ctx: ApiContext,
  table: CatalogTable,
  parentId: string | null,
  scopes: ReadonlySet<string>,
  url: URL,
  rateHeaders: Record<string, string>,
): Outcome {
  requireScopes(table.scopes, scopes);

  const request = parseListRequest(table, url.searchParams, parentId);
  checkIncludeScopes(table, request.include, scopes);

  const dataset = ctx.dataset;
  let parentIndex = 0;
  if (table.parent) {
    const index = parentId === null ? undefined : dataset.parentIndex(table.name, parentId);
    if (index === undefined)
      throw notFound(`A ${table.parent.table.replace(/s$/, '')} with id ${parentId} does not exist.`);
    parentIndex = index;
  }

  const page = request.cursor?.page ?? 1;
  const cursorRaw = request.cursorText;
  const fault = ctx.faults.decide(table.name, page, url.searchParams.get('sort'));
  if (fault.action.kind === 'status') {
    const error = serverFault(fault.action.status);
    return {
      status: error.status,
      body: Buffer.from(error.body()),
      headers: rateHeaders,
      table: table.name,
      page,
      cursor: cursorRaw,
      fault,
    };
  }
  if (fault.action.kind === 'reset') {
    return { status: 0, body: Buffer.alloc(0), headers: {}, table: table.name, page, cursor: cursorRaw, fault };
  }

  const source = dataset.source(table.name, parentIndex);
  const result = readPage({
    source,
    conditions: request.conditions,
    sort: request.sort,
    pageSize: request.pageSize,
    after: request.cursor ? { key: request.cursor.key, index: request.cursor.index } : null,
    cachedOrdering: (field, build) => dataset.cached(`order:${table.name}:${parentIndex}:${field}`, build),
  });
  const base = ctx.baseUrl();
  const next = result.next
    ? encodeCursor({ query: request.fingerprint, page: page + 1, key: result.next.key, index: result.next.index })
    : null;
  const body = buildEnvelope({
    baseUrl: base,
    table,
    request,
    rows: result.rows,
    selfUrl: pageUrl(base, url, cursorRaw),
    nextUrl: next ? pageUrl(base, url, next) : null,
  });
  return {
    status: 200,
    body: Buffer.from(body),
    headers: rateHeaders,
    table: table.name,
    page,
    cursor: cursorRaw,
    fault: fault.delayMs > 0 || fault.action.kind !== 'none' ? fault : null,
  };
}

/** The tier of a request: the endpoint's, or a slower variant some parameters select (predictive analytics). */
function limitsOf(tier: Limits, variants: CatalogTable['tierVariants'], params: URLSearchParams): Limits {
  for (const variant of variants) {
    const given = params.get(variant.when.param)?.split(',') ?? [];
    const asked = given.some((value) => variant.when.values.includes(value));
    if (asked) return { burst: variant.burst, steady: variant.steady };
  }
  return { burst: tier.burst, steady: tier.steady };
}

function scopesOfType(type: string): string[] {
  const table =
    CATALOG.find((t) => t.resourceType === type && !t.parent) ?? CATALOG.find((t) => t.resourceType === type);
  return table?.scopes ?? OTHER_TYPE_SCOPES[type] ?? [];
}

/** An absolute page URL like Klaviyo's: the cursor first, brackets percent-encoded, other parameters kept. */
function pageUrl(baseUrl: string, url: URL, cursor: string | null): string {
  const parts: string[] = [];
  if (cursor !== null) parts.push(`page%5Bcursor%5D=${encodeURIComponent(cursor)}`);
  for (const [name, value] of url.searchParams) {
    if (name !== 'page[cursor]') parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  }
  return `${baseUrl}${url.pathname}${parts.length > 0 ? `?${parts.join('&')}` : ''}`;
}
