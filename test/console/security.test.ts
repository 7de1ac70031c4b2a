import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { assertSafeBind, isLoopback, UnsafeBindError } from '../../console/server/bind-address';
import { startTestEngine, type TestEngine } from '../support/engine';
import { startTestConsole, type TestConsole } from '../support/console';

/**
 * Who may use the console: loopback only without a token; with one, a sign-in page (HttpOnly, SameSite=Strict
 * cookie) or a bearer header; a state-changing request from a browser carries the page's CSRF token and never
 * comes from another site; the CSP allows no script but the console's own.
 */
let engine: TestEngine;
let open: TestConsole;
let guarded: TestConsole;
const TOKEN = 'a-long-random-console-token-for-tests';

beforeAll(async () => {
  engine = await startTestEngine({ worker: false, sandbox: { sizes: { profiles: 10, events: 10 } } });
  [open, guarded] = await Promise.all([startTestConsole(engine), startTestConsole(engine, { token: TOKEN })]);
}, 120_000);

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await engine?.stop();
});

const csrfOf = (html: string) => /<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1];

describe('binding', () => {
  test('loopback addresses need no token; any other address does', () => {
    expect(['127.0.0.1', '127.8.9.1', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.com'].some(isLoopback)).toBe(false);
    expect(() => assertSafeBind('0.0.0.0', undefined)).toThrow(UnsafeBindError);
    expect(() => assertSafeBind('0.0.0.0', TOKEN)).not.toThrow();
  });

  test('npm run console refuses a non-loopback bind without a token, in words, with status 2', async () => {
    const root = path.resolve(__dirname, '../..');
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(root, 'console', 'main.ts')], {
      cwd: root,
      env: { ...engine.env, DATAFLOW_CONSOLE_HOST: '0.0.0.0', DATAFLOW_CONSOLE_PORT: '0', DATAFLOW_CONSOLE_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('Refusing to serve the console on 0.0.0.0 without a token');
    expect(stderr).toContain('DATAFLOW_CONSOLE_TOKEN');
  });
});

describe('a loopback console without a token', () => {
  test('every answer carries a strict Content-Security-Policy and refuses framing', async () => {
    const { headers } = await open.call('GET', '/imports');
    const csp = headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(headers.get('x-frame-options')).toBe('DENY');
  });

  test('the page has no inline script', async () => {
    const { body } = await open.call<string>('GET', '/imports');
    expect(body.match(/<script\b[^>]*>/g)).toEqual(['<script src="/assets/app.js" defer>']);
    expect(body).not.toMatch(/\son[a-z]+=/i);
  });

  test('a request naming another host (DNS rebinding) is refused', async () => {
    // fetch() will not send another Host; node:http will.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const request = http.get(`${open.url}/api/dataflows`, { headers: { host: 'attacker.example' } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      });
      request.on('error', reject);
    });
    expect(status).toBe(421);
  });

  test('a cross-site POST is refused before anything runs', async () => {
    const attempts: Array<Record<string, string>> = [
      { origin: 'https://attacker.example', 'content-type': 'application/json' },
      { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
    ];
    for (const headers of attempts) {
      const { status, body } = await open.call<{ error: { code: string } }>('POST', '/api/dataflows/X/runs', {
        body: {},
        headers,
      });
      expect([status, body.error.code]).toEqual([403, 'CrossSiteRequest']);
    }
  });

  test('a same-origin browser POST without the page’s CSRF token is refused; with it, it goes through', async () => {
    const page = await open.call<string>('GET', '/imports');
    const csrf = csrfOf(page.body);
    expect(csrf).toBeTruthy();
    const browserHeaders = { origin: open.url, 'sec-fetch-site': 'same-origin' };
    const refused = await open.call<{ error: { code: string } }>('POST', '/api/dataflows/Nobody/runs', {
      body: {},
      headers: browserHeaders,
    });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'CsrfTokenMissing']);
    const passed = await open.call<{ error: { code: string } }>('POST', '/api/dataflows/Nobody/runs', {
      body: {},
      headers: { ...browserHeaders, 'x-csrf-token': csrf! },
    });
    expect([passed.status, passed.body.error.code]).toEqual([404, 'DataflowNotFound']);
  });

  test('a form post (not JSON) is refused', async () => {
    const response = await fetch(`${open.url}/api/dataflows/X/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'full=true',
    });
    expect(response.status).toBe(415);
  });
});

describe('a console with a token', () => {
  test('pages redirect to sign-in and the API answers 401 without it', async () => {
    const page = await guarded.call('GET', '/imports');
    expect([page.status, page.headers.get('location')]).toEqual([303, '/login']);
    const api = await guarded.call<{ error: { code: string } }>('GET', '/api/dataflows');
    expect([api.status, api.body.error.code]).toEqual([401, 'Unauthorized']);
    const wrong = await guarded.call('GET', '/api/dataflows', { headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
  });

  test('a script with the bearer token is served', async () => {
    const { status, body } = await guarded.call('GET', '/api/dataflows', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect([status, body]).toEqual([200, []]);
  });

  test('signing in sets an HttpOnly, SameSite=Strict session cookie; a wrong token sets none', async () => {
    const wrong = await fetch(`${guarded.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=nope',
      redirect: 'manual',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const signedIn = await fetch(`${guarded.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(TOKEN)}`,
      redirect: 'manual',
    });
    expect(signedIn.status).toBe(303);
    const cookie = signedIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^dataflow_console_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).not.toContain(TOKEN);

    const session = cookie.split(';')[0];
    const page = await guarded.call<string>('GET', '/imports', { headers: { cookie: session } });
    expect(page.status).toBe(200);
    const csrf = csrfOf(page.body)!;
    const without = await guarded.call('POST', '/api/dataflows/Nobody/runs', {
      body: {},
      headers: { cookie: session },
    });
    expect(without.status).toBe(403);
    const withToken = await guarded.call('POST', '/api/dataflows/Nobody/runs', {
      body: {},
      headers: { cookie: session, 'x-csrf-token': csrf },
    });
    expect(withToken.status).toBe(404);
  });
});
