import { createHash } from 'node:crypto';
import { z } from 'zod/v4';
import type { RateBudgetSource } from './rate-budget';

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

/** The options' values with their defaults applied. */
export interface Settings {
  /** The base URL's origin: every link Klaviyo returns is rebased onto it. */
  origin: string;
  timeoutMs: number;
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxThrottleWaitMs: number;
  rateLimitsEnabled: boolean;
  rateLimitScale: number;
}

/** Options checked, with what the client derives from them. */
export interface CheckedOptions {
  apiKey: string;
  /** The base URL without a trailing slash. */
  baseUrl: string;
  /** The key of the client's rate budget (never the API key). */
  accountKey: string;
  settings: Settings;
}

/** Checks `options` (a TypeError naming every problem, never the key) and applies the defaults. */
export function checkOptions(options: KlaviyoClientOptions): CheckedOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`);
    throw new TypeError(`Invalid Klaviyo client options: ${problems.join('; ')}`);
  }
  const input = parsed.data;
  const base = new URL(input.baseUrl ?? DEFAULT_BASE_URL);
  const baseUrl = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
  if (input.accountKey !== undefined && input.accountKey === input.apiKey) {
    throw new TypeError('Invalid Klaviyo client options: accountKey must not be the API key');
  }
  const accountKey =
    input.accountKey ??
    `key-sha256:${createHash('sha256').update(`${baseUrl}\n${input.apiKey}`).digest('hex').slice(0, 24)}`;
  return {
    apiKey: input.apiKey,
    baseUrl,
    accountKey,
    settings: {
      origin: base.origin,
      timeoutMs: input.timeoutMs ?? 60_000,
      attempts: input.retry?.attempts ?? 5,
      baseDelayMs: input.retry?.baseDelayMs ?? 500,
      maxDelayMs: input.retry?.maxDelayMs ?? 30_000,
      maxThrottleWaitMs: input.maxThrottleWaitMs ?? 300_000,
      rateLimitsEnabled: input.rateLimits?.enabled ?? true,
      rateLimitScale: input.rateLimits?.scale ?? 1,
    },
  };
}
