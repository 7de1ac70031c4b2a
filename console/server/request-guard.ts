import type { FastifyRequest } from 'fastify';
import { isLoopback, isLoopbackHostHeader } from './bind-address';
import { ConsoleHttpError } from './http-errors';
import { cookieValue, SESSION_COOKIE, type ConsoleSessions, type Session } from './sessions';

/** Requests that change something: they need proof that they come from the console's own pages (or a script). */
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Who is asking: a signed-in browser (its session), a script with the bearer token, or nobody known. */
export type Caller = { kind: 'browser'; session: Session } | { kind: 'script' } | { kind: 'anonymous' };

/**
 * Decides, before any route runs, whether a request may go on:
 * - a loopback console answers only to loopback `Host` names (a DNS-rebinding page sends its own name);
 * - with a token, a request carries it as a bearer header or a session cookie from the sign-in page;
 * - a state-changing request from a browser carries the session's CSRF token in `x-csrf-token`, and never
 *   comes from another site (`Sec-Fetch-Site`, `Origin`). A script with the bearer token needs no CSRF token:
 *   no browser attaches that header by itself. On loopback without a token, a request that carries none of
 *   a browser's marks (no cookie, no `Origin`, no `Sec-Fetch-Site`) is a script on this machine, and passes.
 */
export class RequestGuard {
  constructor(
    private readonly sessions: ConsoleSessions,
    private readonly bindHost: string,
  ) {}

  caller(request: FastifyRequest): Caller {
    if (isLoopback(this.bindHost) && !isLoopbackHostHeader(request.headers.host)) {
      throw new ConsoleHttpError(
        421,
        'WrongHost',
        'This console answers only to 127.0.0.1 or localhost; open it by that address.',
      );
    }
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (this.sessions.authRequired && bearer !== undefined) {
      if (!this.sessions.tokenMatches(bearer)) {
        throw new ConsoleHttpError(401, 'Unauthorized', 'The bearer token is not the console token.');
      }
      return { kind: 'script' };
    }
    const session = this.sessions.find(cookieValue(request.headers.cookie, SESSION_COOKIE));
    return session ? { kind: 'browser', session } : { kind: 'anonymous' };
  }

  /** Throws unless an unsafe request is proven to come from the console's own page or from a script. */
  checkForgery(request: FastifyRequest, caller: Caller): void {
    if (!UNSAFE.has(request.method) || caller.kind === 'script') return;
    const site = request.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      throw new ConsoleHttpError(403, 'CrossSiteRequest', 'Refused: this request came from another site.');
    }
    const origin = request.headers.origin;
    const ownOrigin = origin === `http://${request.headers.host}` || origin === `https://${request.headers.host}`;
    // `Origin: null` (a sandboxed frame, a privacy setting) proves nothing, unless the browser vouches same-origin.
    const opaqueButSameOrigin = origin === 'null' && site === 'same-origin';
    if (origin !== undefined && !ownOrigin && !opaqueButSameOrigin) {
      throw new ConsoleHttpError(403, 'CrossSiteRequest', 'Refused: this request came from another site.');
    }
    if (caller.kind !== 'browser') return;
    const fromBrowser = origin !== undefined || site !== undefined || request.headers.cookie !== undefined;
    if (!this.sessions.authRequired && !fromBrowser) return;
    if (request.headers['x-csrf-token'] !== caller.session.csrfToken) {
      throw new ConsoleHttpError(
        403,
        'CsrfTokenMissing',
        'Refused: the request lacks the console page’s CSRF token. Reload the page and try again.',
      );
    }
  }
}
