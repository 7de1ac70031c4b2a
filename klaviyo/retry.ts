import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import type { CatalogTable } from './catalog';
import type { RetryInfo, Settings } from './client-options';
import { KlaviyoError, KlaviyoThrottledError } from './errors';
import { tableRateLimits } from './query';
import type { RateBudgetSource, RateLimits } from './rate-budget';
import { requestTier, throwIfAborted, type AttemptOutcome, type KlaviyoTransport } from './transport';

/** The attempts at one page: requests sent, failures (malformed answers included), time spent throttled. */
export interface Tries {
  sent: number;
  /** The HTTP status of the last answer. */
  status: number;
  failures: number;
  throttles: number;
  throttledMs: number;
}

export const noTries = (): Tries => ({ sent: 0, status: 0, failures: 0, throttles: 0, throttledMs: 0 });

/** Where a `Retrier` sends, whose budget it spends, and whom it tells. */
export interface RetrierOptions {
  transport: KlaviyoTransport;
  settings: Settings;
  accountKey: string;
  budgets: RateBudgetSource;
  onRetry: ((info: RetryInfo) => void) | undefined;
  onRateWait: ((info: { tier: string; ms: number }) => void) | undefined;
}

/**
 * Attempts at one request until one brings a 2xx answer: each attempt waits for the account's rate budget,
 * a 429 waits its Retry-After (pausing the whole tier) up to `maxThrottleWaitMs` in all, and a failure
 * (5xx, no answer, a malformed body) waits an exponential backoff up to `attempts` in all.
 */
export class Retrier {
  readonly #transport: KlaviyoTransport;
  readonly #settings: Settings;
  readonly #accountKey: string;
  readonly #budgets: RateBudgetSource;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  readonly #onRateWait: ((info: { tier: string; ms: number }) => void) | undefined;

  constructor(options: RetrierOptions) {
    this.#transport = options.transport;
    this.#settings = options.settings;
    this.#accountKey = options.accountKey;
    this.#budgets = options.budgets;
    this.#onRetry = options.onRetry;
    this.#onRateWait = options.onRateWait;
  }

  /**
   * The raw 2xx answer for one page (not parsed yet), retried as configured; throws the typed error of the
   * last attempt. `tries` counts across calls for the same page, so a refetch after a malformed answer
   * continues the count. `onAnswer` sees the answer first and says whether it started another request.
   */
  async fetchAnswer(
    url: string,
    table: CatalogTable,
    signal: AbortSignal | undefined,
    tries: Tries,
    onAnswer?: (raw: Buffer) => boolean,
    post?: { body: string; maxThrottleWaitMs?: number },
  ): Promise<Buffer> {
    const limits = this.limitsFor(table, url);
    const budget = limits ? this.#budgets.tier(this.#accountKey, limits) : undefined;
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
        outcome = await this.#transport.attempt(url, table, tries.sent, signal, post?.body);
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
        const waitMs = retryAfterMs(outcome.retryAfter) || backoffDelay(tries.throttles, baseDelayMs, maxDelayMs);
        if (tries.throttledMs + waitMs > maxThrottleWaitMs) {
          throw new KlaviyoThrottledError({
            table: table.name,
            url,
            status: 429,
            attempts: tries.sent,
            tier: requestTier(table, url),
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
  async afterFailure(tries: Tries, error: KlaviyoError, signal: AbortSignal | undefined): Promise<void> {
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

  /** The budget's limits for `url` (scaled as configured), or undefined when the budget is off. */
  private limitsFor(table: CatalogTable, url: string): RateLimits | undefined {
    if (!this.#settings.rateLimitsEnabled) return undefined;
    const limits = tableRateLimits(table, new URL(url).searchParams);
    const scale = this.#settings.rateLimitScale;
    return {
      burst: Math.max(1, Math.floor(limits.burst * scale)),
      steady: Math.max(1, Math.floor(limits.steady * scale)),
    };
  }

  private reportRetry(info: RetryInfo): void {
    try {
      this.#onRetry?.(info);
    } catch {
      // A reporting hook must never change what the client does.
    }
  }

  private reportWait(table: CatalogTable, url: string, ms: number): void {
    if (!this.#onRateWait) return;
    try {
      this.#onRateWait({ tier: requestTier(table, url), ms });
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
