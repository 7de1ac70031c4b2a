import { takeTurn } from '../shared/turns';
import { bytesToText } from './byte-strings';
import type { CatalogTable } from './catalog';
import { KlaviyoBadRequestError, KlaviyoMalformedResponseError } from './errors';
import { peekNextLink } from './next-link';
import { checkAnswer } from './page-answer';
import type { PageStrings } from './page-check';
import { tablePath, tableQueryString, type TableQuery } from './query';
import { noTries, type Retrier, type Tries } from './retry';
import type { KlaviyoResource, TablePageBody } from './schemas';

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

/**
 * The URLs of a read: a query's first page, a checkpoint's page to resume at, and each page's next link,
 * always on the base URL's origin (a link's own origin is dropped; path and query are kept verbatim).
 */
export class PageLinks {
  constructor(
    /** The base URL, without a trailing slash. */
    private readonly baseUrl: string,
    /** The base URL's origin. */
    private readonly origin: string,
  ) {}

  /** The URL of the first page of a table query. */
  pageUrl(query: TableQuery): string {
    const path = tablePath(query.table, query.parentId);
    const search = tableQueryString(query);
    return `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
  }

  /** The checkpoint's `startUrl` on the base URL, after checking it is a page of the request's table. */
  resumeUrl(request: PagesRequest): string {
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

  /** The validated page's `links.next` on the base URL, or null on the last page. */
  nextUrlOf(body: TablePageBody, url: string, table: CatalogTable, strings: PageStrings): string | null {
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
  peekedNextUrl(raw: Buffer, from: string, table: CatalogTable): string | null | undefined {
    const link = peekNextLink(raw);
    if (typeof link !== 'string') return link;
    try {
      return this.rebase(link, from, table);
    } catch {
      return undefined;
    }
  }

  /** `link` with its origin replaced by the base URL's; path and query are kept verbatim. */
  private rebase(link: string, from: string, table: CatalogTable): string {
    const origin = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(link);
    if (origin) return `${this.origin}${link.slice(origin[0].length)}`;
    if (link.startsWith('/')) return `${this.origin}${link}`;
    throw new KlaviyoMalformedResponseError({
      table: table.name,
      url: from,
      status: 200,
      problem: 'links.next is not a URL',
    });
  }
}

/** What a read of pages uses: the retried requests, the links, and the API key's redaction. */
export interface PageReader {
  retrier: Retrier;
  links: PageLinks;
  redact: (text: string) => string;
}

/** Pages requested ahead of the one the consumer holds. */
const PAGES_AHEAD = 2;

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

/**
 * The next page of `pages`, undefined after the last. A consumer that awaits something while it holds a page (a write,
 * the next page) should take pages with this into a `let` it clears once the page is handled, rather than with
 * `for await`: the loop's binding, and the iterator result around it, stay in the suspended frame and keep the page,
 * raw and parsed, until the next one replaces it.
 */
export async function nextPage(pages: AsyncIterator<KlaviyoPage>): Promise<KlaviyoPage | undefined> {
  const step = await pages.next();
  return step.done ? undefined : step.value;
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
export async function* readPages(
  { retrier, links, redact }: PageReader,
  request: PagesRequest,
): AsyncGenerator<KlaviyoPage, void, undefined> {
  const { table } = request;
  const first = request.startUrl ? links.resumeUrl(request) : links.pageUrl(request);
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
    const raw = retrier.fetchAnswer(url, table, signal, tries, (answer) => {
      const entry = entryOf();
      entry.peeked = links.peekedNextUrl(answer, url, table);
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

  /**
   * The page `current` answered, or null when the answer failed validation and was asked for again. Parsed here, not in
   * the generator's own frame: a suspended generator keeps every value its frame held, dead or not, so a page parsed
   * there stayed in memory, raw and parsed, while the generator waited for the next answer (a round trip over the
   * internet, for every slice of a read).
   */
  const take = async (current: Ahead): Promise<KlaviyoPage | null> => {
    const raw = await current.raw;
    await takeTurn();
    const checked = checkAnswer(raw, current.url, table, current.tries, redact, request.byteStrings === true);
    if (!checked.ok) {
      await retrier.afterFailure(current.tries, checked.error, current.controller.signal);
      refetch(current);
      return null;
    }
    current.release();
    const { body, strings } = checked;
    const nextUrl = links.nextUrlOf(body, current.url, table, strings);
    return { data: body.data, included: body.included ?? [], url: current.url, nextUrl, bytes: raw.length, strings };
  };

  let pending: Ahead | null = start(first, 0);
  try {
    while (pending !== null) {
      const current: Ahead = pending;
      let page: KlaviyoPage | null = await take(current);
      if (page === null) continue;
      consumed = current.index;
      if (current.next !== null && current.next.url === page.nextUrl) {
        pending = current.next;
      } else {
        cancel(current.next);
        pending = page.nextUrl === null ? null : start(page.nextUrl, current.index + 1);
      }
      advance(pending);
      yield page;
      // Not held while the next answer is awaited (see `take`).
      page = null;
    }
  } finally {
    request.signal?.removeEventListener('abort', forwardAbort);
    stop.abort(new Error('The read ended before this page was needed'));
  }
}
