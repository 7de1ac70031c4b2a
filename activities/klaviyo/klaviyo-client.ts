import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import got, { type Got, type Response } from 'got';
import { z } from 'zod/v4';
import { KLAVIYO_REVISION, getTable, type CatalogTable } from './catalog';
import { maskApiKey, redactApiKey } from './api-key-masking';
import {
  KlaviyoBadRequestError,
  KlaviyoError,
  KlaviyoInvalidApiKeyError,
  KlaviyoMalformedResponseError,
  KlaviyoMissingScopeError,
  KlaviyoNetworkError,
  KlaviyoNotFoundError,
  KlaviyoServerError,
  KlaviyoThrottledError,
} from './errors';
import { tablePath, tableQueryString, tableRateLimits, type TableQuery } from './query';
import { accountRateBudget, tierName, type AccountRateBudget, type RateLimits } from './rate-budget';
import {
  accountAttributesSchema,
  errorBodySchema,
  tablePageSchema,
  type AccountAttributes,
  type KlaviyoResource,
  type TablePageBody,
} from './schemas';

export const DEFAULT_BASE_URL = 'https://a.klaviyo.com';

/** Options of a `KlaviyoClient`. */
export interface KlaviyoClientOptions {
  /** The account's private API key (`pk_…`). Never logged nor put in an error. */
  apiKey: string;
  /** @default 'https://a.klaviyo.com' */
  baseUrl?: string;
  /**
   * Identifies the Klaviyo account whose rate budget requests count against; clients with the same
   * account key in one process share one budget. Use the account id when known.
   * @default a hash of base URL and API key
   */
  accountKey?: string;
  /** Time allowed for one request, answer body included. @default 60_000 (ms) */
  timeoutMs?: number;
  /** Retries of 5xx answers, timeouts, connection failures and malformed bodies. */
  retry?: {
    /** Attempts in total, the first included. @default 5 */
    attempts?: number;
    /** Delay before the first retry; doubles on each, with jitter. @default 500 (ms) */
    baseDelayMs?: number;
    /** Upper bound of one delay. @default 30_000 (ms) */
    maxDelayMs?: number;
  };
  /** The longest total time one request may wait on Klaviyo's 429 answers before failing. @default 300_000 (ms) */
  maxThrottleWaitMs?: number;
  /**
   * The client-side rate budget. `enabled: false` sends without one (Klaviyo's 429s are still honoured);
   * `scale` multiplies every tier's limits (for a sandbox whose limits are scaled the same way).
   * @default { enabled: true, scale: 1 }
   */
  rateLimits?: { enabled?: boolean; scale?: number };
  /** Called after every HTTP attempt (status 0: no answer). Errors it throws are ignored. */
  onRequest?: (info: RequestInfo) => void;
}

/** One HTTP attempt, as reported to `onRequest`. */
export interface RequestInfo {
  url: string;
  /** The HTTP status, or 0 when no answer came (connection failure, timeout). */
  status: number;
  /** Duration in milliseconds. */
  ms: number;
  /** Size of the answer body in bytes. */
  bytes: number;
}

/** What to read: a table and its query, and where to resume. */
export interface PagesRequest extends TableQuery {
  /**
   * The URL of the next page to fetch, from a checkpoint (`nextUrl` of the last page loaded). It
   * contains no secret; its origin is replaced by the base URL. When set, the query options other than
   * `table` and `parentId` are ignored: the URL already carries them.
   */
  startUrl?: string;
  /** Aborts the read: waiting and the request in flight end with the signal's reason. */
  signal?: AbortSignal;
}

/** One page of a table. */
export interface KlaviyoPage {
  data: KlaviyoResource[];
  /** Related resources asked for with `include`, de-duplicated by Klaviyo per page. */
  included: KlaviyoResource[];
  /** The URL this page came from. */
  url: string;
  /** The URL of the next page (a resumable checkpoint), or null on the last page. */
  nextUrl: string | null;
  /** Size of the answer body in bytes. */
  bytes: number;
}

export interface KlaviyoAccount {
  id: string;
  attributes: AccountAttributes;
}

const optionsSchema = z.object({
  apiKey: z
    .string({ error: 'apiKey must be a string' })
    .min(1, { error: 'apiKey is empty' })
    // A header value cannot hold control characters; the value itself is never echoed.
    .refine((key) => !/[\s\x00-\x1f\x7f]/.test(key), { error: 'apiKey contains whitespace or control characters' }),
  baseUrl: z.url({ protocol: /^https?$/, error: 'baseUrl must be an absolute http(s) URL' }).optional(),
  accountKey: z.string().min(1).optional(),
  timeoutMs: z.number().int().positive().optional(),
  retry: z
    .object({
      attempts: z.number().int().min(1).optional(),
      baseDelayMs: z.number().min(0).optional(),
      maxDelayMs: z.number().min(0).optional(),
    })
    .optional(),
  maxThrottleWaitMs: z.number().min(0).optional(),
  rateLimits: z.object({ enabled: z.boolean().optional(), scale: z.number().positive().optional() }).optional(),
  onRequest: z.custom<(info: RequestInfo) => void>((v) => typeof v === 'function').optional(),
});

interface Settings {
  origin: string;
  timeoutMs: number;
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxThrottleWaitMs: number;
  rateLimitsEnabled: boolean;
  rateLimitScale: number;
}

interface FetchedPage {
  url: string;
  body: TablePageBody;
  bytes: number;
}

/** Why one attempt did not produce a page, and whether another attempt may. */
type AttemptOutcome =
  | { kind: 'page'; body: TablePageBody; bytes: number }
  | { kind: 'throttled'; retryAfterMs: number | undefined }
  | { kind: 'retry'; error: KlaviyoError };

/**
 * The only code that talks to Klaviyo: authenticated, revision-pinned GETs of catalog tables, page by
 * page, within the account's rate budget, with retries, and with every answer validated before a row
 * leaves this class.
 */
export class KlaviyoClient {
  /** The key of this client's rate budget (never the API key). */
  readonly accountKey: string;
  /** The base URL requests go to, without a trailing slash. */
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #http: Got;
  readonly #agents: { http: http.Agent; https: https.Agent };
  readonly #settings: Settings;
  readonly #budget: AccountRateBudget;
  readonly #onRequest: ((info: RequestInfo) => void) | undefined;

  constructor(options: KlaviyoClientOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`);
      throw new TypeError(`Invalid Klaviyo client options: ${problems.join('; ')}`);
    }
    const input = parsed.data;
    this.#apiKey = input.apiKey;
    const base = new URL(input.baseUrl ?? DEFAULT_BASE_URL);
    this.baseUrl = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
    if (input.accountKey !== undefined && input.accountKey === input.apiKey) {
      throw new TypeError('Invalid Klaviyo client options: accountKey must not be the API key');
    }
    this.accountKey =
      input.accountKey ??
      `key-sha256:${createHash('sha256').update(`${this.baseUrl}\n${input.apiKey}`).digest('hex').slice(0, 24)}`;
    this.#settings = {
      origin: base.origin,
      timeoutMs: input.timeoutMs ?? 60_000,
      attempts: input.retry?.attempts ?? 5,
      baseDelayMs: input.retry?.baseDelayMs ?? 500,
      maxDelayMs: input.retry?.maxDelayMs ?? 30_000,
      maxThrottleWaitMs: input.maxThrottleWaitMs ?? 300_000,
      rateLimitsEnabled: input.rateLimits?.enabled ?? true,
      rateLimitScale: input.rateLimits?.scale ?? 1,
    };
    this.#budget = accountRateBudget(this.accountKey);
    this.#onRequest = options.onRequest;
    this.#agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true }),
    };
    this.#http = got.extend({
      headers: {
        authorization: `Klaviyo-API-Key ${input.apiKey}`,
        revision: KLAVIYO_REVISION,
        accept: 'application/vnd.api+json',
        'user-agent': 'klaviyo-dataflows',
      },
      timeout: { request: this.#settings.timeoutMs },
      // Retries are ours: each attempt must pass the rate budget and be classified.
      retry: 0,
      throwHttpErrors: false,
      // A redirect could carry the Authorization header to another host.
      followRedirect: false,
      agent: this.#agents,
    });
  }

  /** The account behind the key (`GET /api/accounts`, XS tier: call it once per run). */
  async getAccount(signal?: AbortSignal): Promise<KlaviyoAccount> {
    const table = getTable('accounts');
    const url = this.pageUrl({ table });
    const { body } = await this.fetchPage(url, table, signal);
    const account = body.data[0];
    const attributes = accountAttributesSchema.safeParse(account?.attributes ?? {});
    if (!account || !attributes.success) {
      throw new KlaviyoMalformedResponseError({
        table: table.name,
        url,
        status: 200,
        problem: account ? 'the account attributes do not fit' : 'the account list is empty',
      });
    }
    return { id: account.id, attributes: attributes.data };
  }

  /** The URL of the first page of a table query (for a first checkpoint, or to show). */
  pageUrl(query: TableQuery): string {
    const path = tablePath(query.table, query.parentId);
    const search = tableQueryString(query);
    return `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
  }

  /**
   * The pages of one table, following `links.next` until Klaviyo has no next page. The next page is fetched
   * while the consumer handles the current one (never more than one ahead), so memory stays flat whatever
   * the table size. Leaving the loop early cancels that prefetch.
   * Throws `KlaviyoError`s (see errors.ts), or the signal's reason when aborted.
   */
  async *pages(request: PagesRequest): AsyncGenerator<KlaviyoPage, void, undefined> {
    const { table } = request;
    const first = request.startUrl ? this.resumeUrl(request) : this.pageUrl(request);
    // One signal for the caller's abort and for leaving the loop early (which cancels the prefetch).
    const stop = new AbortController();
    const { signal } = stop;
    const forwardAbort = () => stop.abort(request.signal?.reason);
    if (request.signal?.aborted) forwardAbort();
    else request.signal?.addEventListener('abort', forwardAbort, { once: true });
    const fetch = (url: string): Promise<FetchedPage> => {
      const fetched = this.fetchPage(url, table, signal).then((page) => ({ url, ...page }));
      // Handled when awaited below; this only keeps an abandoned prefetch from being an unhandled rejection.
      fetched.catch(() => undefined);
      return fetched;
    };
    let pending: Promise<FetchedPage> | null = fetch(first);
    try {
      while (pending !== null) {
        const { url, body, bytes }: FetchedPage = await pending;
        const next: string | null = body.links?.next ?? null;
        const nextUrl: string | null = next === null ? null : this.rebase(next, url, table);
        if (nextUrl === url) {
          throw new KlaviyoMalformedResponseError({
            table: table.name,
            url,
            status: 200,
            problem: 'links.next points back to the same page',
          });
        }
        pending = nextUrl === null ? null : fetch(nextUrl);
        yield { data: body.data, included: body.included ?? [], url, nextUrl, bytes };
      }
    } finally {
      request.signal?.removeEventListener('abort', forwardAbort);
      stop.abort(new Error('The read ended before this page was needed'));
    }
  }

  /** Closes idle keep-alive connections. The client must not be used afterwards. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  private resumeUrl(request: PagesRequest): string {
    const startUrl = request.startUrl as string;
    const expected = `${new URL(this.baseUrl).pathname.replace(/\/+$/, '')}${tablePath(request.table, request.parentId)}`;
    let url: string | undefined;
    let actual: string | undefined;
    if (/^(https?:\/\/[^/?#]*)?\//i.test(startUrl)) {
      url = this.rebase(startUrl, startUrl, request.table);
      actual = URL.canParse(url) ? new URL(url).pathname.replace(/\/+$/, '') : undefined;
    }
    if (url === undefined || actual !== expected) {
      throw new KlaviyoBadRequestError({
        table: request.table.name,
        detail: `the checkpoint URL ${startUrl} is not a page of ${expected}`,
      });
    }
    return url;
  }

  /** `link` with its origin replaced by the base URL's; path and query are kept verbatim. */
  private rebase(link: string, from: string, table: CatalogTable): string {
    const origin = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(link);
    if (origin) return `${this.#settings.origin}${link.slice(origin[0].length)}`;
    if (link.startsWith('/')) return `${this.#settings.origin}${link}`;
    throw new KlaviyoMalformedResponseError({
      table: table.name,
      url: from,
      status: 200,
      problem: 'links.next is not a URL',
    });
  }

  private limitsFor(table: CatalogTable, url: string): RateLimits | undefined {
    if (!this.#settings.rateLimitsEnabled) return undefined;
    const limits = tableRateLimits(table, new URL(url).searchParams);
    const scale = this.#settings.rateLimitScale;
    return {
      burst: Math.max(1, Math.floor(limits.burst * scale)),
      steady: Math.max(1, Math.floor(limits.steady * scale)),
    };
  }

  /** One page, retried as configured; throws the typed error of the last attempt. */
  private async fetchPage(
    url: string,
    table: CatalogTable,
    signal: AbortSignal | undefined,
  ): Promise<{ body: TablePageBody; bytes: number }> {
    const limits = this.limitsFor(table, url);
    const budget = limits ? this.#budget.tier(limits) : undefined;
    const tier = tierName(tableRateLimits(table, new URL(url).searchParams));
    const { attempts, baseDelayMs, maxDelayMs, maxThrottleWaitMs } = this.#settings;
    let failures = 0;
    let throttles = 0;
    let throttledMs = 0;
    let sent = 0;
    for (;;) {
      throwIfAborted(signal);
      const permit = budget ? await budget.acquire(signal) : undefined;
      sent++;
      let outcome: AttemptOutcome;
      try {
        outcome = await this.attempt(url, table, sent, signal);
      } finally {
        permit?.release();
      }
      if (outcome.kind === 'page') return outcome;
      if (outcome.kind === 'throttled') {
        throttles++;
        // A missing or zero Retry-After must not turn into a tight loop of 429s.
        const waitMs = outcome.retryAfterMs || backoffDelay(throttles, baseDelayMs, maxDelayMs);
        if (throttledMs + waitMs > maxThrottleWaitMs) {
          throw new KlaviyoThrottledError({
            table: table.name,
            url,
            status: 429,
            attempts: sent,
            tier,
            waitedMs: throttledMs,
            nextWaitMs: waitMs,
            maxWaitMs: maxThrottleWaitMs,
          });
        }
        throttledMs += waitMs;
        // Every caller of this tier waits, not only this one: the account's window is spent.
        if (budget) budget.pauseUntil(Date.now() + waitMs);
        else await sleep(waitMs, signal);
        continue;
      }
      failures++;
      if (failures >= attempts) throw outcome.error;
      await sleep(backoffDelay(failures, baseDelayMs, maxDelayMs), signal);
    }
  }

  /** Sends one request and classifies its answer. Throws only errors that no retry can fix. */
  private async attempt(
    url: string,
    table: CatalogTable,
    attemptNumber: number,
    signal: AbortSignal | undefined,
  ): Promise<AttemptOutcome> {
    const context = { table: table.name, url, attempts: attemptNumber };
    const started = performance.now();
    let response: Response<Buffer>;
    try {
      response = await this.send(url, signal);
    } catch (err) {
      this.report({ url, status: 0, ms: performance.now() - started, bytes: 0 });
      throwIfAborted(signal);
      // The got error holds the request options, headers included: keep only its code.
      const code = networkErrorCode(err);
      return {
        kind: 'retry',
        error: new KlaviyoNetworkError({
          ...context,
          code,
          origin: this.#settings.origin,
          reason: networkReason(code, this.#settings.timeoutMs),
        }),
      };
    }
    const body = response.body;
    const status = response.statusCode;
    this.report({ url, status, ms: performance.now() - started, bytes: body.length });
    const withStatus = { ...context, status };

    if (status >= 200 && status < 300) {
      const page = this.parsePage(body, table);
      if (page.ok) return { kind: 'page', body: page.body, bytes: body.length };
      return { kind: 'retry', error: new KlaviyoMalformedResponseError({ ...withStatus, problem: page.problem }) };
    }

    const problem = this.parseErrorBody(body);
    const detail = problem?.detail;
    const code = problem?.code;
    if (status === 429) return { kind: 'throttled', retryAfterMs: retryAfterMs(response.headers['retry-after']) };
    if (status >= 500 || status === 408) {
      return { kind: 'retry', error: new KlaviyoServerError({ ...withStatus, code, detail }) };
    }
    const maskedKey = maskApiKey(this.#apiKey);
    if (status === 401) throw new KlaviyoInvalidApiKeyError({ ...withStatus, code, maskedKey, detail });
    if (status === 403) {
      throw new KlaviyoMissingScopeError({ ...withStatus, code, maskedKey, scopes: table.scopes, detail });
    }
    if (status === 404) throw new KlaviyoNotFoundError({ ...withStatus, code, detail });
    if (status >= 400) {
      throw new KlaviyoBadRequestError({
        ...withStatus,
        code,
        parameter: problem?.parameter,
        detail: detail ?? `HTTP ${status}`,
      });
    }
    return {
      kind: 'retry',
      error: new KlaviyoMalformedResponseError({ ...withStatus, problem: `unexpected HTTP status ${status}` }),
    };
  }

  private async send(url: string, signal: AbortSignal | undefined): Promise<Response<Buffer>> {
    const request = this.#http.get(url, { responseType: 'buffer' });
    const cancel = () => request.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await request;
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  private parsePage(
    raw: Buffer,
    table: CatalogTable,
  ): { ok: true; body: TablePageBody } | { ok: false; problem: string } {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return { ok: false, problem: raw.length === 0 ? 'the body is empty' : 'the body is not complete JSON' };
    }
    const parsed = tablePageSchema(table).safeParse(json);
    if (parsed.success) return { ok: true, body: parsed.data };
    const [first] = parsed.error.issues;
    const more = parsed.error.issues.length > 1 ? ` and ${parsed.error.issues.length - 1} more problem(s)` : '';
    const where = first.path.length > 0 ? `${first.path.join('.')}: ` : '';
    return { ok: false, problem: this.redact(`${where}${first.message}${more}`) };
  }

  /** Klaviyo's first error, if the body is a JSON:API error document (Cloudflare answers HTML). */
  private parseErrorBody(raw: Buffer): { detail?: string; code?: string; parameter?: string } | undefined {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return undefined;
    }
    const parsed = errorBodySchema.safeParse(json);
    if (!parsed.success) return undefined;
    const [first] = parsed.data.errors;
    const text = first.detail ?? first.title;
    return {
      detail: text === undefined ? undefined : this.redact(truncate(text, 500)),
      code: first.code === undefined ? undefined : this.redact(truncate(first.code, 100)),
      parameter: first.source?.parameter === undefined ? undefined : this.redact(truncate(first.source.parameter, 100)),
    };
  }

  private redact(text: string): string {
    return redactApiKey(text, this.#apiKey);
  }

  private report(info: RequestInfo): void {
    if (!this.#onRequest) return;
    try {
      this.#onRequest(info);
    } catch {
      // An observer must not break a read.
    }
  }
}

/** Exponential backoff with "equal jitter": between half and all of min(max, base·2^(n-1)). */
export function backoffDelay(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (failures - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** `Retry-After` in milliseconds: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function networkErrorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  }
  return 'UNKNOWN';
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed before the answer was complete',
};

function networkReason(code: string, timeoutMs: number): string {
  if (code === 'ETIMEDOUT') return `no complete answer within ${Math.round(timeoutMs / 100) / 10} s`;
  return NETWORK_REASONS[code] ?? `network error ${code}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('The operation was aborted');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('The operation was aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('The operation was aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
