import { randomUUID } from 'node:crypto';

/**
 * An answer in Klaviyo's error shape: `{"errors":[{id,status,code,title,detail,source}]}` with an
 * integer status. Details never contain the API key.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly source: { parameter?: string; pointer?: string } = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }

  body(): string {
    return JSON.stringify({
      errors: [
        {
          id: randomUUID(),
          status: this.status,
          code: this.code,
          title: this.title,
          detail: this.detail,
          source: this.source,
          links: {},
          meta: {},
        },
      ],
    });
  }
}

/** `err` as the answer to send: an ApiError as it is, anything else (logged, with `where`) as Klaviyo's plain 500. */
export function answerOf(err: unknown, where: string): ApiError {
  if (err instanceof ApiError) return err;
  console.error(`sandbox: unexpected error ${where}`, err);
  return new ApiError(500, 'error', 'A server error occurred.', 'Unexpected sandbox error.');
}

export function invalid(detail: string, parameter?: string): ApiError {
  return new ApiError(400, 'invalid', 'Invalid input.', detail, parameter ? { parameter } : { pointer: '/data/' });
}

export function notAuthenticated(): ApiError {
  return new ApiError(
    401,
    'not_authenticated',
    'Authentication credentials were not provided.',
    'Missing or invalid authorization scheme. Please use Klaviyo-API-Key.',
  );
}

export function authenticationFailed(): ApiError {
  return new ApiError(
    401,
    'authentication_failed',
    'Incorrect authentication credentials.',
    'Incorrect authentication credentials.',
  );
}

/** Throws Klaviyo's 403 naming the scopes of `needed` that the key lacks, if any. */
export function requireScopes(needed: readonly string[], scopes: ReadonlySet<string>): void {
  const missing = needed.filter((s) => !scopes.has(s));
  if (missing.length > 0) throw permissionDenied(missing);
}

export function permissionDenied(missingScopes: string[]): ApiError {
  return new ApiError(
    403,
    'permission_denied',
    'You do not have permission to perform this action.',
    `This API key is missing required scopes: ${missingScopes.join(', ')}.`,
  );
}

export function notFound(detail: string): ApiError {
  return new ApiError(404, 'not_found', 'Not found.', detail);
}

export function methodNotAllowed(method: string): ApiError {
  return new ApiError(405, 'method_not_allowed', `Method "${method}" not allowed.`, `Method "${method}" not allowed.`);
}

export function throttled(retryAfterSeconds: number): ApiError {
  return new ApiError(
    429,
    'throttled',
    'Request was throttled.',
    `Request was throttled. Expected available in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`,
    {},
    { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** An injected server-side failure. */
export function serverFault(status: number): ApiError {
  const title =
    status === 503 ? 'Service unavailable.' : status === 504 ? 'Gateway timeout.' : 'A server error occurred.';
  return new ApiError(
    status,
    status === 503 ? 'service_unavailable' : 'error',
    title,
    `${title} (sandbox fault injection)`,
  );
}
