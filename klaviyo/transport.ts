import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import got, { type Got, type Response } from 'got';
import { KLAVIYO_REVISION, type CatalogTable } from './catalog';
import { maskApiKey, redactApiKey } from '../secrets/api-key';
import type { RequestInfo, Settings } from './client-options';
import {
  KlaviyoBadRequestError,
  KlaviyoError,
  KlaviyoInvalidApiKeyError,
  KlaviyoMalformedResponseError,
  KlaviyoMissingScopeError,
  KlaviyoNetworkError,
  KlaviyoNotFoundError,
  KlaviyoServerError,
} from './errors';
import { revisionNoticeOf } from './revision-notice';
import { tableRateLimits } from './query';
import { tierName } from './rate-budget';
import { errorBodySchema } from './schemas';

/** What one attempt came to: an answer to parse, a 429, or a failure another attempt may fix. */
export type AttemptOutcome =
  | { kind: 'answer'; raw: Buffer; status: number }
  | { kind: 'throttled'; retryAfter: string | string[] | undefined }
  | { kind: 'retry'; error: KlaviyoError };

/**
 * The HTTP side of the client: authenticated, revision-pinned requests over keep-alive connections, each
 * answer classified (a 2xx to parse, a 429, a retryable failure, or a typed error no retry can fix). One
 * request per call: retries and the rate budget are retry.ts's. Holds the API key, and redacts it.
 */
export class KlaviyoTransport {
  readonly #apiKey: string;
  readonly #http: Got;
  readonly #agents: { http: http.Agent; https: https.Agent };
  readonly #origin: string;
  readonly #timeoutMs: number;
  readonly #onRequest: ((info: RequestInfo) => void) | undefined;
  /** The `Date` header of the latest answer: Klaviyo's clock. */
  #serverDate: string | undefined;
  /** Set once an answer says the pinned revision is deprecated (see revision-notice.ts). */
  #revisionNotice: string | undefined;

  constructor(
    apiKey: string,
    settings: Pick<Settings, 'origin' | 'timeoutMs'>,
    onRequest: ((info: RequestInfo) => void) | undefined,
  ) {
    this.#apiKey = apiKey;
    this.#origin = settings.origin;
    this.#timeoutMs = settings.timeoutMs;
    this.#onRequest = onRequest;
    this.#agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true }),
    };
    this.#http = got.extend({
      headers: {
        authorization: `Klaviyo-API-Key ${apiKey}`,
        revision: KLAVIYO_REVISION,
        accept: 'application/vnd.api+json',
        'user-agent': 'klaviyo-dataflows',
      },
      timeout: { request: settings.timeoutMs },
      // Retries are ours: each attempt must pass the rate budget and be classified.
      retry: 0,
      throwHttpErrors: false,
      // A redirect could carry the Authorization header to another host.
      followRedirect: false,
      agent: this.#agents,
    });
  }

  /** Sends one request and classifies its answer. Throws only errors that no retry can fix. */
  async attempt(
    url: string,
    table: CatalogTable,
    attemptNumber: number,
    signal: AbortSignal | undefined,
    requestBody?: string,
  ): Promise<AttemptOutcome> {
    const context = { table: table.name, url, attempts: attemptNumber };
    const tier = requestTier(table, url);
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
          origin: this.#origin,
          reason: networkReason(code, this.#timeoutMs),
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
    if (status === 429) return { kind: 'throttled', retryAfter: response.headers['retry-after'] };
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

  /** Klaviyo's clock as its latest answer stated it (the `Date` header, whole seconds), or undefined. */
  serverTime(): Date | undefined {
    const ms = this.#serverDate === undefined ? NaN : Date.parse(this.#serverDate);
    return Number.isNaN(ms) ? undefined : new Date(ms);
  }

  /** The deprecation notice of the pinned revision, once any answer has given one. */
  revisionNotice(): string | undefined {
    return this.#revisionNotice;
  }

  /** `text` with the API key taken out (for what Klaviyo's answers echo into an error). */
  redact(text: string): string {
    return redactApiKey(text, this.#apiKey);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
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

  private report(info: RequestInfo): void {
    if (!this.#onRequest) return;
    try {
      this.#onRequest(info);
    } catch {
      // An observer must not break a read.
    }
  }
}

/** The tier a request for `table` at `url` counts against, by Klaviyo's real limits (not scaled). */
export function requestTier(table: CatalogTable, url: string): string {
  return tierName(tableRateLimits(table, new URL(url).searchParams));
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('The operation was aborted');
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
