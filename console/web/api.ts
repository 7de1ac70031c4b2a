import type { ApiErrorBody } from '../api-types';

/** An error answer of the API, or a failure to reach it, in words for the user. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly field?: string,
    readonly url?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The dataflow's name as one path segment. */
export const enc = encodeURIComponent;

function csrfToken(): string {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ApiErrorBody).error === 'object' &&
    typeof (value as ApiErrorBody).error?.message === 'string'
  );
}

/**
 * One request to the console's API. State-changing methods carry the CSRF token from the page's meta tag; a 401
 * means the session expired, so the browser goes to the server-rendered login page and the promise never settles.
 */
export async function request<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers['x-csrf-token'] = csrfToken();
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      // A state-changing request says it sends JSON, so it always has a body, `{}` when there is nothing to say.
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    });
  } catch (err) {
    throw new ApiError(
      `Cannot reach the console server (${err instanceof Error ? err.message : String(err)}). Check that it is running.`,
      'NetworkError',
      0,
    );
  }
  if (response.status === 401) {
    window.location.assign('/login');
    return new Promise<T>(() => undefined);
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!response.ok) {
    if (isErrorBody(parsed)) {
      const { code, message, field, url } = parsed.error;
      throw new ApiError(message, code, response.status, field, url);
    }
    throw new ApiError(
      `The console server answered ${response.status} ${response.statusText}.`,
      'HttpError',
      response.status,
    );
  }
  if (parsed === undefined)
    throw new ApiError('The console server sent an answer that is not JSON.', 'BadAnswer', response.status);
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: <T>(path: string) => request<T>('DELETE', path),
};

/** The message to show for anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
