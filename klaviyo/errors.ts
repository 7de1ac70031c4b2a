/**
 * Failures of the Klaviyo client, as classes a workflow can act on: each has a stable `type` (the
 * activity layer turns it into an `ApplicationFailure` type a retry policy can name) and says whether
 * retrying can help. Messages are written for the person who owns the dataflow. None of them carries the
 * API key or a got error (got errors hold the request options, headers included).
 */

/**
 * Every failure type, and whether sending the same request again can succeed: the one place that says so
 * (the activity layer turns `false` into a non-retryable `ApplicationFailure`).
 */
const RETRYABLE = {
  KlaviyoInvalidApiKey: false,
  KlaviyoMissingScope: false,
  KlaviyoBadRequest: false,
  KlaviyoNotFound: false,
  KlaviyoThrottled: true,
  KlaviyoServerError: true,
  KlaviyoNetworkError: true,
  KlaviyoMalformedResponse: true,
} as const satisfies Record<string, boolean>;
export type KlaviyoErrorType = keyof typeof RETRYABLE;

/** Where a failure happened; every field is safe to show (URLs of Klaviyo pages contain no secret). */
export interface KlaviyoErrorContext {
  /** The catalog table being read, e.g. `profiles`. */
  table?: string;
  /** The URL of the request that failed. */
  url?: string;
  /** The HTTP status of the last answer; undefined when no answer came. */
  status?: number;
  /** Klaviyo's error `code` (e.g. `permission_denied`) or the network error code (e.g. `ECONNRESET`). */
  code?: string;
  /** How many times the request was sent. */
  attempts?: number;
}

export abstract class KlaviyoError extends Error {
  abstract readonly type: KlaviyoErrorType;
  readonly table: string | undefined;
  readonly url: string | undefined;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly attempts: number | undefined;

  /** The fields a subclass adds (declared there with `declare readonly`), shown by `toJSON` too. */
  readonly #details: Record<string, unknown>;

  protected constructor(message: string, context: KlaviyoErrorContext, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.table = context.table;
    this.url = context.url;
    this.status = context.status;
    this.code = context.code;
    this.attempts = context.attempts;
    this.#details = details;
    Object.assign(this, details);
  }

  /** Whether sending the same request again can succeed. */
  get retryable(): boolean {
    return RETRYABLE[this.type];
  }

  /** What `JSON.stringify` shows: the same safe fields, message included. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      type: this.type,
      retryable: this.retryable,
      message: this.message,
      table: this.table,
      url: this.url,
      status: this.status,
      code: this.code,
      attempts: this.attempts,
      ...this.#details,
    };
  }
}

/** Whether `err` is one of the client's typed failures. */
export function isKlaviyoError(err: unknown): err is KlaviyoError {
  return err instanceof KlaviyoError;
}

function tablePhrase(table: string | undefined): string {
  return table ? `the table "${table}"` : 'this request';
}

/** Klaviyo's details end with a period or not; messages embed them without doubling it. */
function clause(detail: string): string {
  return detail.trim().replace(/\.+$/, '');
}

/** A failure Klaviyo may have explained: its `detail`, when it gave one, ends the message as "Klaviyo said: …". */
abstract class KlaviyoExplainedError extends KlaviyoError {
  protected constructor(
    sentence: string,
    input: { detail?: string } & KlaviyoErrorContext,
    details: Record<string, unknown> = {},
  ) {
    super(input.detail ? `${sentence} Klaviyo said: ${clause(input.detail)}.` : sentence, input, details);
  }
}

/** 401: the key is wrong, revoked, or not a private key. */
export class KlaviyoInvalidApiKeyError extends KlaviyoError {
  readonly type = 'KlaviyoInvalidApiKey';
  constructor(input: { maskedKey: string; detail?: string } & KlaviyoErrorContext) {
    super(
      `Klaviyo rejected the API key ${input.maskedKey}: ${clause(input.detail ?? 'the key is not valid')}. ` +
        'Check that it is a current private API key of this account (Klaviyo → Settings → API keys) ' +
        'and update the dataflow with a valid key.',
      input,
    );
  }
}

/** 403: the key is valid but lacks a read scope a table needs. */
export class KlaviyoMissingScopeError extends KlaviyoExplainedError {
  readonly type = 'KlaviyoMissingScope';
  /** The scopes the table needs (Klaviyo does not say which one is missing). */
  declare readonly scopes: readonly string[];
  constructor(input: { maskedKey: string; scopes: readonly string[]; detail?: string } & KlaviyoErrorContext) {
    super(
      `The API key ${input.maskedKey} is not allowed to read ${tablePhrase(input.table)}: ` +
        `it needs the scope${input.scopes.length === 1 ? '' : 's'} ${input.scopes.join(', ')}. ` +
        'Add the scope to the key in Klaviyo (Settings → API keys) or deselect the table.',
      input,
      { scopes: input.scopes },
    );
  }
}

/** 400 (or a request the client refuses to send): retrying the same request cannot succeed. */
export class KlaviyoBadRequestError extends KlaviyoError {
  readonly type = 'KlaviyoBadRequest';
  /** The query parameter Klaviyo blamed (e.g. `filter`), when it said. */
  declare readonly parameter: string | undefined;
  constructor(input: { detail: string; parameter?: string } & KlaviyoErrorContext) {
    const where = input.parameter ? ` (parameter "${input.parameter}")` : '';
    const who = input.status === undefined ? 'The Klaviyo client refused' : 'Klaviyo refused';
    super(
      `${who} the request for ${tablePhrase(input.table)} as invalid${where}: ${clause(input.detail)}. ` +
        'Fix the table selection, fields, filter or sort; retrying the same request will not help.',
      input,
      { parameter: input.parameter },
    );
  }
}

/** 404: e.g. a parent (list, flow, tag…) deleted between listing it and reading its children. */
export class KlaviyoNotFoundError extends KlaviyoExplainedError {
  readonly type = 'KlaviyoNotFound';
  constructor(input: { detail?: string } & KlaviyoErrorContext) {
    super(
      `Klaviyo found nothing at ${input.url ?? 'the requested URL'} while reading ${tablePhrase(input.table)}; ` +
        'the object may have been deleted since it was listed.',
      input,
    );
  }
}

/** 429 for longer than the client was allowed to wait. */
export class KlaviyoThrottledError extends KlaviyoError {
  readonly type = 'KlaviyoThrottled';
  /** How much longer Klaviyo asked to wait (its `Retry-After`, or the backoff), in ms. */
  readonly nextWaitMs: number;
  /**
   * @param input.waitedMs time already spent waiting on 429s for this request
   * @param input.nextWaitMs the further wait Klaviyo asked for (`Retry-After`) or backoff would impose
   */
  constructor(input: { waitedMs: number; nextWaitMs: number; maxWaitMs: number; tier: string } & KlaviyoErrorContext) {
    const waited =
      input.waitedMs > 0
        ? `the client waited ${seconds(input.waitedMs)} and would have to wait ${seconds(input.nextWaitMs)} more`
        : `the client would have to wait ${seconds(input.nextWaitMs)}`;
    super(
      `Klaviyo kept throttling ${tablePhrase(input.table)} (rate tier ${input.tier}): ${waited}, ` +
        `beyond the client's patience of ${seconds(input.maxWaitMs)}. ` +
        "Another application may be using this account's rate limit; run the dataflow again later.",
      input,
    );
    this.nextWaitMs = input.nextWaitMs;
  }
}

/** 5xx answers that persisted through every retry. */
export class KlaviyoServerError extends KlaviyoExplainedError {
  readonly type = 'KlaviyoServerError';
  constructor(input: { detail?: string } & KlaviyoErrorContext) {
    super(
      `Klaviyo answered HTTP ${input.status ?? '5xx'} to ${input.attempts ?? 1} attempt(s) to read ` +
        `${tablePhrase(input.table)}. The fault is on Klaviyo's side; run the dataflow again later.`,
      input,
    );
  }
}

/** No usable answer: connection refused or reset, DNS failure, timeout. */
export class KlaviyoNetworkError extends KlaviyoError {
  readonly type = 'KlaviyoNetworkError';
  constructor(input: { origin: string; reason: string } & KlaviyoErrorContext) {
    super(
      `Could not reach Klaviyo at ${input.origin} (${input.reason}) after ${input.attempts ?? 1} attempt(s) ` +
        `to read ${tablePhrase(input.table)}. Check the base URL and this machine's network connection.`,
      input,
    );
  }
}

/** An answer that is not what Klaviyo's API promises (not JSON, truncated, wrong shape): never loaded. */
export class KlaviyoMalformedResponseError extends KlaviyoError {
  readonly type = 'KlaviyoMalformedResponse';
  /** What did not fit, e.g. `data.3.attributes.email: Expected string, received number`. */
  declare readonly problem: string;
  constructor(input: { problem: string } & KlaviyoErrorContext) {
    super(
      `Klaviyo sent a response for ${tablePhrase(input.table)} that does not match its API ` +
        `(${input.problem}) on ${input.attempts ?? 1} attempt(s). Nothing from it was loaded; ` +
        'run the dataflow again later, and report it if it persists.',
      input,
      { problem: input.problem },
    );
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
