import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { CATALOG, RATE_TIERS, type CatalogTable } from '../../activities/klaviyo/catalog';
import type { Dataset } from '../data/dataset';
import { encodeCursor } from '../query/cursor';
import { readPage } from '../query/page-reader';
import { ApiError, invalid, methodNotAllowed, notFound, permissionDenied, serverFault } from './api-error';
import type { ApiKeys } from './api-keys';
import { buildEnvelope } from './envelope';
import type { FaultDecision, FaultInjector } from './faults';
import { parseListRequest } from './list-request';
import type { RateLimiter, Limits } from './rate-limiter';
import type { RequestLog } from './request-log';
import { matchRoute } from './routes';

export const CONTENT_TYPE = 'application/vnd.api+json';

export interface ApiContext {
  dataset: Dataset;
  keys: ApiKeys;
  limiter: RateLimiter;
  faults: FaultInjector;
  log: RequestLog;
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
 * Answers one `/api/...` request the way Klaviyo would: route, auth (401), revision (400), rate limit (429),
 * scopes (403), parameters (400), parent (404), injected faults, then the page.
 */
export async function handleApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const arrived = new Date().toISOString();
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  let outcome: Outcome;
  try {
    outcome = answer(ctx, req, url);
  } catch (err) {
    const error =
      err instanceof ApiError
        ? err
        : new ApiError(500, 'error', 'A server error occurred.', 'Unexpected sandbox error.');
    if (!(err instanceof ApiError)) console.error('sandbox: unexpected error', err);
    const route = matchRoute(url.pathname);
    outcome = {
      status: error.status,
      body: Buffer.from(error.body()),
      headers: error.headers,
      table: route?.table.name ?? null,
      page: null,
      cursor: null,
      fault: null,
    };
  }

  const fault = outcome.fault;
  if (fault && fault.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  const action = fault?.action.kind ?? 'none';
  const faultName = action !== 'none' ? action : fault && fault.delayMs > 0 ? 'slow' : null;
  const entry = {
    time: arrived,
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.search.replace(/^\?/, ''),
    table: outcome.table,
    page: outcome.page,
    cursor: outcome.cursor,
    status: outcome.status,
    bytes: 0,
    durationMs: 0,
    fault: faultName,
  };
  if (action === 'reset') {
    req.socket.destroy();
    ctx.log.add({ ...entry, status: 0, durationMs: Math.round(performance.now() - started) });
    return;
  }
  let body = outcome.body;
  if (action === 'truncate') body = body.subarray(0, Math.floor(body.length / 2));
  if (action === 'malformed')
    body = Buffer.concat([body.subarray(0, Math.floor(body.length / 3)), Buffer.from('\u0000}{,]<html>')]);
  res.writeHead(outcome.status, {
    'Content-Type': CONTENT_TYPE,
    'Content-Length': String(body.length),
    ...outcome.headers,
  });
  res.end(body);
  ctx.log.add({ ...entry, bytes: body.length, durationMs: Math.round(performance.now() - started) });
}

function answer(ctx: ApiContext, req: IncomingMessage, url: URL): Outcome {
  const route = matchRoute(url.pathname);
  if (!route) throw notFound(`The path ${url.pathname} could not be found.`);
  if (req.method !== 'GET') throw methodNotAllowed(req.method ?? '');
  const { table, parentId } = route;
  const scopes = ctx.keys.authenticate(req.headers);
  const revision = req.headers.revision;
  if (typeof revision !== 'string' || revision.length === 0) {
    throw invalid("The 'revision' header is required (e.g. revision: 2026-07-15).", 'revision');
  }
  if (!/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(revision)) {
    throw invalid(`'${revision}' is not a valid revision (format YYYY-MM-DD[.suffix]).`, 'revision');
  }

  const params = url.searchParams;
  const rateHeaders = ctx.limiter.take(limitsOf(table, params)) ?? {};
  try {
    return serve(ctx, table, parentId, scopes, url, rateHeaders);
  } catch (err) {
    // 4xx answers after the rate limit counted the request still say how much budget is left.
    if (err instanceof ApiError)
      throw new ApiError(err.status, err.code, err.title, err.detail, err.source, { ...rateHeaders, ...err.headers });
    throw err;
  }
}

function serve(
  ctx: ApiContext,
  table: CatalogTable,
  parentId: string | null,
  scopes: ReadonlySet<string>,
  url: URL,
  rateHeaders: Record<string, string>,
): Outcome {
  const missing = table.scopes.filter((s) => !scopes.has(s));
  if (missing.length > 0) throw permissionDenied(missing);

  const request = parseListRequest(table, url.searchParams, parentId);
  const includeScopes = request.include.flatMap((name) => {
    const type = table.relationships.find((r) => r.name === name)?.type ?? name;
    return scopesOfType(type);
  });
  const missingForInclude = [...new Set(includeScopes)].filter((s) => !scopes.has(s));
  if (missingForInclude.length > 0) throw permissionDenied(missingForInclude);

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
  const fault = ctx.faults.decide(table.name, page);
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
function limitsOf(table: CatalogTable, params: URLSearchParams): Limits {
  for (const variant of table.tierVariants) {
    const [name, value] = variant.when.split('=');
    const given = params.get(name)?.split(',') ?? [];
    if (given.includes(value)) return { burst: variant.burst, steady: variant.steady };
  }
  return RATE_TIERS[table.tier];
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
