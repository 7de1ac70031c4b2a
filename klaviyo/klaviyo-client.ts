import { getTable, type CatalogTable } from './catalog';
import { checkOptions, type KlaviyoClientOptions, type Settings } from './client-options';
import { KlaviyoMalformedResponseError } from './errors';
import { checkAnswer, parseJson } from './page-answer';
import { PageLinks, readPages, type KlaviyoPage, type PageReader, type PagesRequest } from './paging';
import { tableRateLimits, type TableQuery } from './query';
import { PROCESS_RATE_BUDGETS } from './rate-budget';
import { noTries, Retrier } from './retry';
import { accountAttributesSchema, type AccountAttributes, type TablePageBody } from './schemas';
import { KlaviyoTransport } from './transport';

export interface KlaviyoAccount {
  id: string;
  attributes: AccountAttributes;
}

/**
 * The only code that talks to Klaviyo: authenticated, revision-pinned GETs of catalog tables, page by
 * page, within the account's rate budget, with retries, and with every answer validated before a row
 * leaves this class. Its parts, one concern each: client-options.ts (options and defaults), transport.ts
 * (one HTTP request, its answer classified), retry.ts (attempts, throttling, the rate budget), paging.ts
 * (read-ahead, links, resume), next-link.ts (the next link read off raw bytes), page-answer.ts (a page
 * parsed and validated).
 */
export class KlaviyoClient {
  /** The key of this client's rate budget (never the API key). */
  readonly accountKey: string;
  /** The base URL requests go to, without a trailing slash. */
  readonly baseUrl: string;
  readonly #settings: Settings;
  readonly #transport: KlaviyoTransport;
  readonly #retrier: Retrier;
  readonly #links: PageLinks;
  readonly #reader: PageReader;

  constructor(options: KlaviyoClientOptions) {
    const { apiKey, baseUrl, accountKey, settings } = checkOptions(options);
    this.baseUrl = baseUrl;
    this.accountKey = accountKey;
    this.#settings = settings;
    this.#transport = new KlaviyoTransport(apiKey, settings, options.onRequest);
    this.#retrier = new Retrier({
      transport: this.#transport,
      settings,
      accountKey,
      budgets: options.rateBudgets ?? PROCESS_RATE_BUDGETS,
      onRetry: options.onRetry,
      onRateWait: options.onRateWait,
    });
    this.#links = new PageLinks(baseUrl, settings.origin);
    const transport = this.#transport;
    this.#reader = { retrier: this.#retrier, links: this.#links, redact: (text) => transport.redact(text) };
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
      nextUrl: this.#links.nextUrlOf(body, url, query.table, 'text'),
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
      const raw = await this.#retrier.fetchAnswer(url, table, options.signal, tries, undefined, post);
      const parsed = parseJson(raw);
      if (parsed.ok) return { json: parsed.json, url, bytes: raw.length };
      const error = new KlaviyoMalformedResponseError({
        table: table.name,
        url,
        attempts: tries.sent,
        status: tries.status,
        problem: parsed.problem,
      });
      await this.#retrier.afterFailure(tries, error, options.signal);
    }
  }

  /** The URL of the first page of a table query (for a first checkpoint, or to show). */
  pageUrl(query: TableQuery): string {
    return this.#links.pageUrl(query);
  }

  /**
   * The pages of one table, following `links.next` until Klaviyo has no next page, the next ones requested
   * ahead while the consumer handles the current one (see paging.ts). Leaving the loop early cancels what is
   * ahead. Throws `KlaviyoError`s (see errors.ts), or the signal's reason when aborted.
   */
  pages(request: PagesRequest): AsyncGenerator<KlaviyoPage, void, undefined> {
    return readPages(this.#reader, request);
  }

  /**
   * Klaviyo's clock as its latest answer stated it (the `Date` header, whole seconds), or undefined before any
   * answer or when it had none. What Klaviyo dates (`updated`) is dated by this clock, not the worker's.
   */
  serverTime(): Date | undefined {
    return this.#transport.serverTime();
  }

  /**
   * Requests per second Klaviyo allows reads like `query` at steady state, scaled as this client's budget is:
   * what a reader can plan its concurrency on, whether or not the client-side budget is enabled.
   */
  steadyRate(query: TableQuery): number {
    const limits = tableRateLimits(query.table, new URL(this.pageUrl(query)).searchParams);
    return (limits.steady * this.#settings.rateLimitScale) / 60;
  }

  /**
   * A notice that the revision this client sends (KLAVIYO_REVISION) is deprecated, with its sunset date, once any
   * answer has said so; undefined otherwise.
   */
  revisionNotice(): string | undefined {
    return this.#transport.revisionNotice();
  }

  /** Closes idle keep-alive connections. The client must not be used afterwards. */
  close(): void {
    this.#transport.close();
  }

  /** One page, parsed and validated, retried as configured; throws the typed error of the last attempt. */
  private async fetchPage(
    url: string,
    table: CatalogTable,
    signal: AbortSignal | undefined,
  ): Promise<{ body: TablePageBody; bytes: number }> {
    const tries = noTries();
    for (;;) {
      const raw = await this.#retrier.fetchAnswer(url, table, signal, tries);
      const checked = checkAnswer(raw, url, table, tries, this.#reader.redact);
      if (checked.ok) return { body: checked.body, bytes: raw.length };
      await this.#retrier.afterFailure(tries, checked.error, signal);
    }
  }
}
