import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie that carries a signed-in browser's session id: HttpOnly, SameSite=Strict, never readable by script. */
export const SESSION_COOKIE = 'dataflow_console_session';

/** How long a browser stays signed in without using the console. */
const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;

export interface Session {
  id: string;
  /** Sent back by the web app in `x-csrf-token` on every state-changing request. */
  csrfToken: string;
  expiresAt: number;
}

/**
 * Who may use the console. Without a token (loopback only) every browser on the machine shares one session
 * whose CSRF token is handed out in the page; with `DATAFLOW_CONSOLE_TOKEN`, a browser signs in with the token
 * (a session cookie follows) and a script sends it as a bearer header.
 */
export class ConsoleSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly tokenDigest: Buffer | null;
  /** The one session of a console without a token. */
  private readonly open: Session | null;

  constructor(token: string | undefined) {
    this.tokenDigest = token ? digest(token) : null;
    this.open = token ? null : { id: '', csrfToken: randomToken(), expiresAt: Infinity };
  }

  get authRequired(): boolean {
    return this.tokenDigest !== null;
  }

  /** Constant-time: the comparison takes as long for a near miss as for a wild guess. */
  tokenMatches(candidate: string | undefined): boolean {
    if (!this.tokenDigest || candidate === undefined) return false;
    return timingSafeEqual(digest(candidate), this.tokenDigest);
  }

  signIn(): Session {
    this.sweep();
    const session = { id: randomToken(), csrfToken: randomToken(), expiresAt: Date.now() + SESSION_IDLE_MS };
    this.sessions.set(session.id, session);
    return session;
  }

  signOut(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** The session a request belongs to, from its cookie (or the open session); each use extends it. */
  find(cookieId: string | undefined): Session | null {
    if (this.open) return this.open;
    if (!cookieId) return null;
    const session = this.sessions.get(cookieId);
    if (!session || session.expiresAt < Date.now()) {
      if (session) this.sessions.delete(cookieId);
      return null;
    }
    session.expiresAt = Date.now() + SESSION_IDLE_MS;
    return session;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) if (session.expiresAt < now) this.sessions.delete(id);
  }
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** One cookie's value from a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

export function sessionCookie(session: Session, secure: boolean): string {
  const maxAge = Math.floor(SESSION_IDLE_MS / 1000);
  return `${SESSION_COOKIE}=${session.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}
