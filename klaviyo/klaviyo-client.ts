import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import got, { type Got, type Response } from 'got';
import { z } from 'zod/v4';
import { KLAVIYO_REVISION, getTable, type CatalogTable } from './catalog';
import { maskApiKey, redactApiKey } from '../secrets/api-key';
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
import { bytesOf, bytesToText, decodableAsBytes } from './byte-strings';
import { tablePageCheck, type PageStrings } from './page-check';
import { revisionNoticeOf } from './revision-notice';
import { tablePath, tableQueryString, tableRateLimits, type TableQuery } from './query';
import { PROCESS_RATE_BUDGETS, tierName, type RateBudgetSource, type RateLimits } from './rate-budget';
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
  /**
   * Where the budgets live. A worker passes one shared by every worker through Postgres.
   * @default PROCESS_RATE_BUDGETS: one budget per account and tier in this process
   */
  rateBudgets?: RateBudgetSource;
  /** Called after every HTTP attempt (status 0: no answer). Errors it throws are ignored. */
  onRequest?: (info: RequestInfo) => void;
  /**
   * Called before each wait between attempts at one page (a 5xx, a reset, a malformed answer, a 429), so a caller
   * can say why nothing arrives. Errors it throws are ignored.
   */
  onRetry?: (info: RetryInfo) => void;
  /** Called after each wait for the rate budget, with how long it took (for metrics). Errors it throws are ignored. */
  onRateWait?: (info: { tier: string; ms: number }) => void;
}

/** A wait before the next attempt at a page, as reported to `onRetry`. */
export interface RetryInfo {
  table: string;
  /** e.g. `Klaviyo 503`, `Klaviyo 429`, `no answer from Klaviyo`, `a malformed answer`. */
  reason: string;
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  /** The most attempts a failure may have; throttling (429) waits do not count against it. */
  attempts: number;
  waitMs: number;
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
  /** The catalog table asked for. */
  table: string;
  /** The rate tier the request counts against (`L`, or `burst/s·steady/min` for unnamed limits). */
  tier: string;
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
  /**
   * Let a page's strings hold UTF-8 bytes rather than text where that is exact (see byte-strings.ts);
   * each page says which it got in {@link KlaviyoPage.strings}. For a consumer that writes the strings
   * out as bytes, such as the COPY loader. @default false: every page holds text
   */
  byteStrings?: boolean;
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
  /**
   * How the strings of `data` and `included` hold their text: as characters ('text'), or as UTF-8 bytes
   * ('bytes', only when asked for with `byteStrings`). `url` and `nextUrl` are always text.
   */
  strings: PageStrings;
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
  rateBudgets: z.custom<RateBudgetSource>((v) => typeof v === 'object' && v !== null).optional(),
  onRateWait: z.custom<(info: { tier: string; ms: number }) => void>((v) => typeof v === 'function').optional(),
  onRequest: z.custom<(info: RequestInfo) => void>((v) => typeof v === 'function').optional(),
  onRetry: z.custom<(info: RetryInfo) => void>((v) => typeof v === 'function').optional(),
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

/** A page requested ahead of the consumer (its raw answer: it is parsed when the consumer takes it). */
interface Ahead {
  url: string;
  raw: Promise<Buffer>;
  /** Attempts at this page so far, carried from the request to the validation of its answer. */
  tries: Tries;
  /** Stops listening for the read's end (once the page is taken or cancelled). */
  release: () => void;
  controller: AbortController;
  /** The request started on this page's link, if any. */
  next: Ahead | null;
  /** The page's position in the read (0: the first page read). */
  index: number;
  /** The next page's URL read off the raw answer: null for none, undefined when not known (yet). */
  peeked: string | null | undefined;
}

/** Why one attempt did not produce an answer to parse, and whether another attempt may. */
type AttemptOutcome =
  | { kind: 'answer'; raw: Buffer; status: number }
  | { kind: 'throttled'; retryAfterMs: number | undefined }
  | { kind: 'retry'; error: KlaviyoError };

/** The attempts at one page: requests sent, failures (malformed answers included), time spent throttled. */
interface Tries {
  sent: number;
  /** The HTTP status of the last answer. */
  status: number;
  failures: number;
  throttles: number;
  throttledMs: number;
}

const noTries = (): Tries => ({ sent: 0, status: 0, failures: 0, throttles: 0, throttledMs: 0 });

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
  readonly #budgets: RateBudgetSource;
  readonly #onRequest: ((info: RequestInfo) => void) | undefined;
  readonly #onRateWait: ((info: { tier: string; ms: number }) => void) | undefined;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  /** The `Date` header of the latest answer: Klaviyo's clock. */
  #serverDate: string | undefined;

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
    this.#budgets = options.rateBudgets ?? PROCESS_RATE_BUDGETS;
    this.#onRequest = options.onRequest;
    this.#onRateWait = options.onRateWait;
    this.#onRetry = options.onRetry;
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

  /** Only the first page of a table query, with nothing read ahead (a scope probe, a sample). */
  async firstPage(query: TableQuery, signal?: AbortSignal): Promise<KlaviyoPage> {
    const url = this.pageUrl(query);
    const { body, bytes } = await this.fetchPage(url, query.table, signal);
    return {
      data: body.data,
      included: body.included ?? [],
      url,
      nextUrl: this.nextUrlOf(body, url, query.table, 'text'),
      bytes,
      strings: 'text',
    };
  }

  /**
   * One POST of a query document (the Reporting API's reports) to `path`, within `table`'s rate budget and retried
   * like a page; returns the parsed JSON of the 2xx answer for the caller to validate. A 429 that asks to wait longer
   * than `maxThrottleWaitMs` in all throws a KlaviyoThrottledError at once, its `nextWaitMs` saying how long.
   */
  async post(
    table: CatalogTable,
    path: string,
    body: unknown,
    options: { signal?: AbortSignal; maxThrottleWaitMs?: number } = {},
  ): Promise<{ json: unknown; url: string; bytes: number }> {
    const url = `${this.baseUrl}${path}`;
    const post = { body: JSON.stringify(body), maxThrottleWaitMs: options.maxThrottleWaitMs };
    const tries = noTries();
    for (;;) {
      const raw = await this.fetchAnswer(url, table, options.signal, tries, undefined, post);
      try {
        return { json: JSON.parse(raw.toString('utf8')), url, bytes: raw.length };
      } catch {
        const problem = raw.length === 0 ? 'the body is empty' : 'the body is not complete JSON';
        const error = new KlaviyoMalformedResponseError({
          table: table.name,
          url,
          attempts: tries.sent,
          status: tries.status,
          problem,
        });
        await this.afterFailure(tries, error, options.signal);
      }
    }
  }

  /** The URL of the first page of a table query (for a first checkpoint, or to show). */
  pageUrl(query: TableQuery): string {
    const path = tablePath(query.table, query.parentId);
    const search = tableQueryString(query);
    return `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
  }

  /**
   * The pages of one table, following `links.next` until Klaviyo has no next page. The next page is
   * requested as soon as its link is known, while the consumer handles the current one: the link is read
   * off the tail of the raw answer (see {@link peekNextLink}), so Klaviyo prepares page N+2 while the
   * consumer loads page N. Pages ahead are kept as raw bytes and parsed when the consumer takes them, and
   * never more than two are ahead: memory stays flat whatever the table size, and parsed pages die young.
   * A request started on a link the validated page does not confirm is cancelled; a page that fails
   * validation is fetched again like any failed attempt. Leaving the loop early cancels what is ahead.
   * Throws `KlaviyoError`s (see errors.ts), or the signal's reason when aborted.
   */
  async *pages(request: PagesRequest): AsyncGenerator<KlaviyoPage, void, undefined> {
    const { table } = request;
    const first = request.startUrl ? this.resumeUrl(request) : this.pageUrl(request);
    // One signal for the caller's abort and for leaving the loop early (which cancels what is ahead).
    const stop = new AbortController();
    const forwardAbort = () => stop.abort(request.signal?.reason);
    if (request.signal?.aborted) forwardAbort();
    else request.signal?.addEventListener('abort', forwardAbort, { once: true });

    const start = (url: string, index: number): Ahead => {
      const controller = new AbortController();
      const onStop = () => controller.abort(stop.signal.reason);
      stop.signal.addEventListener('abort', onStop, { once: true });
      const tries = noTries();
      const entry: Ahead = {
        url,
        index,
        controller,
        release: () => stop.signal.removeEventListener('abort', onStop),
        tries,
        next: null,
        peeked: undefined,
        // The answer comes after `entry` exists: the callback only reads it then.
        raw: ask(url, controller.signal, tries, () => entry),
      };
      return entry;
    };
    /** The raw answer for `url`; once it comes, the next page is asked for on the link peeked off it. */
    const ask = (url: string, signal: AbortSignal, tries: Tries, entryOf: () => Ahead): Promise<Buffer> => {
      const raw = this.fetchAnswer(url, table, signal, tries, (answer) => {
        const entry = entryOf();
        entry.peeked = this.peekedNextUrl(answer, url, table);
        return startNext(entry);
      });
      // Handled when awaited below; this only keeps a cancelled request from being an unhandled rejection.
      raw.catch(() => undefined);
      return raw;
    };
    /** Asks for `entry`'s page again after its answer failed validation. */
    const refetch = (entry: Ahead) => {
      cancel(entry.next);
      entry.next = null;
      entry.peeked = undefined;
      entry.raw = ask(entry.url, entry.controller.signal, entry.tries, () => entry);
    };
    const cancel = (entry: Ahead | null) => {
      if (!entry) return;
      entry.release();
      entry.controller.abort(new Error('The read ended before this page was needed'));
      cancel(entry.next);
    };
    // The index of the page the consumer holds (-1: none yet); requests stay within PAGES_AHEAD of it.
    let consumed = -1;
    /** Starts the request of `entry`'s peeked link if it is new and within reach; whether it did. */
    const startNext = (entry: Ahead): boolean => {
      const link = entry.peeked;
      if (typeof link !== 'string' || link === entry.url || entry.next?.url === link) return false;
      if (entry.index + 1 > consumed + PAGES_AHEAD) return false;
      cancel(entry.next);
      entry.next = start(link, entry.index + 1);
      return true;
    };
    const advance = (from: Ahead | null) => {
      for (let entry = from; entry !== null; entry = entry.next) if (entry.next === null) startNext(entry);
    };

    let pending: Ahead | null = start(first, 0);
    try {
      while (pending !== null) {
        const current: Ahead = pending;
        const { url } = current;
        const raw = await current.raw;
        const checked = this.checkAnswer(raw, url, table, current.tries, request.byteStrings === true);
        if (!checked.ok) {
          await this.afterFailure(current.tries, checked.error, current.controller.signal);
          refetch(current);
          continue;
        }
        current.release();
        const { body, strings } = checked;
        const bytes = raw.length;
        const nextUrl = this.nextUrlOf(body, url, table, strings);
        consumed = current.index;
        if (current.next !== null && current.next.url === nextUrl) {
          pending = current.next;
        } else {
          cancel(current.next);
          pending = nextUrl === null ? null : start(nextUrl, current.index + 1);
        }
        advance(pending);
        yield { data: body.data, included: body.included ?? [], url, nextUrl, bytes, strings };
      }
    } finally {
      request.signal?.removeEventListener('abort', forwardAbort);
      stop.abort(new Error('The read ended before this page was needed'));
    }
  }

  /** The validated page's `links.next` on the base URL, or null on the last page. */
  private nextUrlOf(body: TablePageBody, url: string, table: CatalogTable, strings: PageStrings): string | null {
    const link = body.links?.next ?? null;
    const next = link !== null && strings === 'bytes' ? bytesToText(link) : link;
    const nextUrl = next === null ? null : this.rebase(next, url, table);
    if (nextUrl === url) {
      throw new KlaviyoMalformedResponseError({
        table: table.name,
        url,
        status: 200,
        problem: 'links.next points back to the same page',
      });
    }
    return nextUrl;
  }

  /** The next page's URL as {@link peekNextLink} reads it off a raw answer; undefined when it cannot tell. */
  private peekedNextUrl(raw: Buffer, from: string, table: CatalogTable): string | null | undefined {
    const link = peekNextLink(raw);
    if (typeof link !== 'string') return link;
    try {
      return this.rebase(link, from, table);
    } catch {
      return undefined;
    }
  }

  /**
   * Klaviyo's clock as its latest answer stated it (the `Date` header, whole seconds), or undefined before any
   * answer or when it had none. What Klaviyo dates (`updated`) is dated by this clock, not the worker's.
   */
  serverTime(): Date | undefined {
    const ms = this.#serverDate === undefined ? NaN : Date.parse(this.#serverDate);
    return Number.isNaN(ms) ? undefined : new Date(ms);
  }

  /**
   * Requests per second Klaviyo allows reads like `query` at steady state, scaled as this client's budget is:
   * what a reader can plan its concurrency on, whether or not the client-side budget is enabled.
   */
  steadyRate(query: TableQuery): number {
    const limits = tableRateLimits(query.table, new URL(this.pageUrl(query)).searchParams);
    return (limits.steady * this.#settings.rateLimitScale) / 60;
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

  /** One page, parsed and validated, retried as configured; throws the typed error of the last attempt. */
  private async fetchPage(
    url: string,
    table: CatalogTable,
    signal: AbortSignal | undefined,
  ): Promise<{ body: TablePageBody; bytes: number }> {
    const tries = noTries();
    for (;;) {
      const raw = await this.fetchAnswer(url, table, signal, tries);
      const checked = this.checkAnswer(raw, url, table, tries);
      if (checked.ok) return { body: checked.body, bytes: raw.length };
      await this.afterFailure(tries, checked.error, signal);
    }
  }

  /**
   * The raw 2xx answer for one page (not parsed yet), retried as configured; throws the typed error of the
   * last attempt. `tries` counts across calls for the same page, so a refetch after a malformed answer
   * continues the count. `onAnswer` sees the answer first and says whether it started another request.
   */
  private async fetchAnswer(
    url: string,
    table: CatalogTable,
    signal: AbortSignal | undefined,
    tries: Tries,
    onAnswer?: (raw: Buffer) => boolean,
    post?: { body: string; maxThrottleWaitMs?: number },
  ): Promise<Buffer> {
    const limits = this.limitsFor(table, url);
    const budget = limits ? this.#budgets.tier(this.accountKey, limits) : undefined;
    const { baseDelayMs, maxDelayMs } = this.#settings;
    const maxThrottleWaitMs = post?.maxThrottleWaitMs ?? this.#settings.maxThrottleWaitMs;
    for (;;) {
      throwIfAborted(signal);
      const waitStarted = performance.now();
      const permit = budget ? await budget.acquire(signal) : undefined;
      if (budget) this.reportWait(table, url, performance.now() - waitStarted);
      tries.sent++;
      let outcome: AttemptOutcome;
      try {
        outcome = await this.attempt(url, table, tries.sent, signal, post?.body);
      } finally {
        permit?.release();
      }
      if (outcome.kind === 'answer') {
        tries.status = outcome.status;
        // A request started on the peeked link is written out by microtasks and nextTicks, which all run
        // before the next setImmediate: let it reach the socket before the caller's parse holds the thread.
        if (onAnswer?.(outcome.raw)) await setImmediate();
        return outcome.raw;
      }
      if (outcome.kind === 'throttled') {
        tries.throttles++;
        // A missing or zero Retry-After must not turn into a tight loop of 429s.
        const waitMs = outcome.retryAfterMs || backoffDelay(tries.throttles, baseDelayMs, maxDelayMs);
        if (tries.throttledMs + waitMs > maxThrottleWaitMs) {
          throw new KlaviyoThrottledError({
            table: table.name,
            url,
            status: 429,
            attempts: tries.sent,
            tier: tierName(tableRateLimits(table, new URL(url).searchParams)),
            waitedMs: tries.throttledMs,
            nextWaitMs: waitMs,
            maxWaitMs: maxThrottleWaitMs,
          });
        }
        tries.throttledMs += waitMs;
        this.reportRetry({
          table: table.name,
          reason: 'Klaviyo 429',
          attempt: tries.sent + 1,
          attempts: this.#settings.attempts,
          waitMs,
        });
        // Every caller of this tier waits, not only this one: the account's window is spent.
        if (budget) budget.pauseUntil(Date.now() + waitMs);
        else await sleep(waitMs, signal);
        continue;
      }
      await this.afterFailure(tries, outcome.error, signal);
    }
  }

  /** Counts a failed attempt: throws `error` when no attempt is left, else waits the backoff delay. */
  private async afterFailure(tries: Tries, error: KlaviyoError, signal: AbortSignal | undefined): Promise<void> {
    const { attempts, baseDelayMs, maxDelayMs } = this.#settings;
    tries.failures++;
    if (tries.failures >= attempts) throw error;
    const waitMs = backoffDelay(tries.failures, baseDelayMs, maxDelayMs);
    this.reportRetry({
      table: error.table ?? '',
      reason: retryReason(error),
      attempt: tries.failures + 1,
      attempts,
      waitMs,
    });
    await sleep(waitMs, signal);
  }

  private reportRetry(info: RetryInfo): void {
    try {
      this.#onRetry?.(info);
    } catch {
      // A reporting hook must never change what the client does.
    }
  }

  /** A raw 2xx answer parsed and validated as a page of `table`, or the malformed-response error it earns. */
  private checkAnswer(
    raw: Buffer,
    url: string,
    table: CatalogTable,
    tries: Tries,
    byteStrings = false,
  ): { ok: true; body: TablePageBody; strings: PageStrings } | { ok: false; error: KlaviyoError } {
    const page = this.parsePage(raw, table, byteStrings);
    if (page.ok) return page;
    return {
      ok: false,
      error: new KlaviyoMalformedResponseError({
        table: table.name,
        url,
        attempts: tries.sent,
        status: tries.status,
        problem: page.problem,
      }),
    };
  }

  /** Sends one request and classifies its answer. Throws only errors that no retry can fix. */
  private async attempt(
    url: string,
    table: CatalogTable,
    attemptNumber: number,
    signal: AbortSignal | undefined,
    requestBody?: string,
  ): Promise<AttemptOutcome> {
    const context = { table: table.name, url, attempts: attemptNumber };
    const tier = this.tierOf(table, url);
    const started = performance.now();
    let response: Response<Buffer>;
    try {
      response = await this.send(url, signal, requestBody);
    } catch (err) {
      this.report({ url, status: 0, ms: performance.now() - started, bytes: 0, table: table.name, tier });
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
    this.report({ url, status, ms: performance.now() - started, bytes: body.length, table: table.name, tier });
    const withStatus = { ...context, status };

    if (status >= 200 && status < 300) {
      this.#serverDate = response.headers.date;
      return { kind: 'answer', raw: body, status };
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

  /** Set once an answer says the pinned revision is deprecated (see revision-notice.ts). */
  #revisionNotice: string | undefined;

  /**
   * A notice that the revision this client sends (KLAVIYO_REVISION) is deprecated, with its sunset date, once any
   * answer has said so; undefined otherwise.
   */
  revisionNotice(): string | undefined {
    return this.#revisionNotice;
  }

  private async send(url: string, signal: AbortSignal | undefined, body?: string): Promise<Response<Buffer>> {
    const request =
      body === undefined
        ? this.#http.get(url, { responseType: 'buffer' })
        : this.#http.post(url, {
            body,
            responseType: 'buffer',
            headers: { 'content-type': 'application/vnd.api+json' },
          });
    const cancel = () => request.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const response = await request;
      this.#revisionNotice ??= revisionNoticeOf(KLAVIYO_REVISION, response.headers);
      return response;
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  private parsePage(
    raw: Buffer,
    table: CatalogTable,
    byteStrings: boolean,
  ): { ok: true; body: TablePageBody; strings: PageStrings } | { ok: false; problem: string } {
    if (byteStrings && decodableAsBytes(raw)) {
      // Byte strings are a shortcut only: a page they do not pass is judged (and worded) as text below.
      try {
        const json: unknown = JSON.parse(bytesOf(raw));
        if (tablePageCheck(table, 'bytes')(json)) return { ok: true, body: json as TablePageBody, strings: 'bytes' };
      } catch {
        // Judged below.
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return { ok: false, problem: raw.length === 0 ? 'the body is empty' : 'the body is not complete JSON' };
    }
    // The compiled check reads the page in place; zod (which copies) only words what it rejected.
    if (tablePageCheck(table)(json)) return { ok: true, body: json as TablePageBody, strings: 'text' };
    const parsed = tablePageSchema(table).safeParse(json);
    if (parsed.success) return { ok: true, body: parsed.data, strings: 'text' };
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

  /** The tier a request for `table` at `url` counts against, by Klaviyo's real limits (not scaled). */
  private tierOf(table: CatalogTable, url: string): string {
    return tierName(tableRateLimits(table, new URL(url).searchParams));
  }

  private reportWait(table: CatalogTable, url: string, ms: number): void {
    if (!this.#onRateWait) return;
    try {
      this.#onRateWait({ tier: this.tierOf(table, url), ms });
    } catch {
      // An observer must not break a read.
    }
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

/** Pages requested ahead of the one the consumer holds. */
const PAGES_AHEAD = 2;

const LINKS_KEY = Buffer.from('"links"');

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * `links.next` of a raw page without parsing it: null when the page says there is none, undefined when
 * the tail does not have the expected shape. Only a document that ends with its top-level `"links"`
 * member (`…,"links":{…}}`) is read; a quote inside a JSON string is always escaped, so `"links"` cannot
 * come from a value, and a `links` member nested deeper would be followed by more than the final brace
 * (the slice would not parse). It is only a hint: the caller checks it against the validated page.
 */
export function peekNextLink(raw: Buffer): string | null | undefined {
  let end = raw.length - 1;
  while (end >= 0 && isJsonSpace(raw[end])) end--;
  if (end < 0 || raw[end] !== 0x7d) return undefined;
  const at = raw.lastIndexOf(LINKS_KEY);
  if (at <= 0) return undefined;
  let before = at - 1;
  while (before >= 0 && isJsonSpace(raw[before])) before--;
  if (before < 0 || (raw[before] !== 0x2c && raw[before] !== 0x7b)) return undefined;
  let colon = at + LINKS_KEY.length;
  while (colon < end && isJsonSpace(raw[colon])) colon++;
  if (raw[colon] !== 0x3a) return undefined;
  let links: unknown;
  try {
    links = JSON.parse(raw.subarray(colon + 1, end).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof links !== 'object' || links === null || Array.isArray(links)) return undefined;
  const next = (links as { next?: unknown }).next;
  if (next === undefined || next === null) return null;
  return typeof next === 'string' ? next : undefined;
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

/** Why an attempt failed, in the few words a progress line has room for. */
function retryReason(error: KlaviyoError): string {
  if (error.status !== undefined && error.status >= 400) return `Klaviyo ${error.status}`;
  if (error.type === 'KlaviyoNetworkError') return 'no answer from Klaviyo';
  if (error.type === 'KlaviyoMalformedResponse') return 'a malformed answer';
  return error.type;
}
