import { reportOf, type ErrorKind } from '../../client/error-report';
import type { ApiErrorBody } from '../api-types';

/** An error of the console's own making (auth, CSRF, a malformed request), with its HTTP status. */
export class ConsoleHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ConsoleHttpError';
  }
}

const STATUS_OF: Record<ErrorKind, number> = {
  input: 400,
  'not-found': 404,
  conflict: 409,
  // Klaviyo said no (a wrong key, a missing scope) or could not be reached: the request was fine, the upstream was not.
  klaviyo: 422,
  'operation-failed': 422,
  internal: 500,
};

const KLAVIYO_UNAVAILABLE = new Set(['KlaviyoServerError', 'KlaviyoNetworkError', 'KlaviyoThrottled']);

/** Any error as the API answers it: the CLI's words and code, an HTTP status that fits. */
export function httpErrorOf(err: unknown): { status: number; body: ApiErrorBody } {
  if (err instanceof ConsoleHttpError) {
    return {
      status: err.status,
      body: { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } },
    };
  }
  const report = reportOf(err);
  const status = report.kind === 'klaviyo' && KLAVIYO_UNAVAILABLE.has(report.code) ? 502 : STATUS_OF[report.kind];
  // An unexpected error (Postgres gone, Temporal unreachable mid-request) is told as it is: words to act on.
  const message = report.kind === 'internal' ? `Unexpected error: ${report.message}` : report.message;
  return {
    status,
    body: { error: { code: report.code, message, ...(report.url ? { url: report.url } : {}) } },
  };
}
