import { inspect } from 'node:util';
import { getTable } from '../../klaviyo/catalog';
import {
  KlaviyoBadRequestError,
  KlaviyoInvalidApiKeyError,
  KlaviyoMalformedResponseError,
  KlaviyoMissingScopeError,
  KlaviyoServerError,
  KlaviyoThrottledError,
} from '../../klaviyo/errors';
import type { KlaviyoClientOptions } from '../../klaviyo/client-options';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import { peekNextLink } from '../../klaviyo/next-link';
import type { KlaviyoPage } from '../../klaviyo/paging';
import { backoffDelay, retryAfterMs } from '../../klaviyo/retry';
import { accountRateBudget } from '../../klaviyo/rate-budget';
import { expectKeyNowhereIn } from './secret-leak-check';
import { errorBody, sendJson, startScriptedHttpServer, type ScriptedHttpServer } from './scripted-http-server';

const API_KEY = 'pk_' + 'Q7r2Xk9Lm4Np8Ts1Vw6Yz3Bc5Df0GhJkwxyz';
const profiles = getTable('profiles');

let server: ScriptedHttpServer;
let clientCount = 0;
const clients: KlaviyoClient[] = [];

beforeAll(async () => {
  server = await startScriptedHttpServer();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.close();
});

/** A client with its own rate budget and fast retries. */
function newClient(options: Partial<KlaviyoClientOptions> = {}): KlaviyoClient {
  const client = new KlaviyoClient({
    apiKey: API_KEY,
    baseUrl: server.baseUrl,
    accountKey: `unit-test-account-${++clientCount}`,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  clients.push(client);
  return client;
}

function profile(id: string, attributes: Record<string, unknown> = { email: `${id}@example.com` }) {
  return { type: 'profile', id, attributes, links: { self: `https://a.klaviyo.com/api/profiles/${id}` } };
}

function profilesPage(ids: string[], next: string | null) {
  return { data: ids.map((id) => profile(id)), links: { self: 'https://a.klaviyo.com/api/profiles', next } };
}

async function readAll(pages: AsyncIterable<KlaviyoPage>): Promise<KlaviyoPage[]> {
  const all: KlaviyoPage[] = [];
  for await (const page of pages) all.push(page);
  return all;
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('KlaviyoClient requests', () => {
  it('sends the private key, the pinned revision and the JSON:API accept header', async () => {
    server.handle((_req, res) => sendJson(res, 200, profilesPage(['p1'], null)));
    await readAll(newClient().pages({ table: profiles }));
    expect(server.requests[0].headers).toMatchObject({
      authorization: `Klaviyo-API-Key ${API_KEY}`,
      revision: '2026-07-15',
      accept: 'application/vnd.api+json',
    });
  });

  it('follows links.next at the configured base URL, keeping its path and query verbatim', async () => {
    const nextPath = '/api/profiles?page%5Bcursor%5D=bmV4dA%3D%3D&page%5Bsize%5D=100&fields%5Bprofile%5D=email';
    server.handle((req, res) =>
      req.url === nextPath
        ? sendJson(res, 200, profilesPage(['p3'], null))
        : sendJson(res, 200, profilesPage(['p1', 'p2'], `https://a.klaviyo.com${nextPath}`)),
    );
    const pages = await readAll(newClient().pages({ table: profiles, fields: ['email'] }));
    expect(server.requests.map((r) => r.url)).toEqual([
      '/api/profiles?fields%5Bprofile%5D=email&page%5Bsize%5D=100',
      nextPath,
    ]);
    expect(pages.map((p) => p.data.map((r) => r.id))).toEqual([['p1', 'p2'], ['p3']]);
    expect(pages[0].nextUrl).toBe(`${server.baseUrl}${nextPath}`);
    expect(pages[1].url).toBe(`${server.baseUrl}${nextPath}`);
    expect(pages[1].nextUrl).toBeNull();
  });

  it('resumes from a checkpoint URL without fetching the first page again', async () => {
    server.handle((_req, res) => sendJson(res, 200, profilesPage(['p9'], null)));
    const startUrl = 'https://a.klaviyo.com/api/profiles?page%5Bcursor%5D=abc&page%5Bsize%5D=100';
    const pages = await readAll(newClient().pages({ table: profiles, startUrl }));
    expect(server.requests.map((r) => r.url)).toEqual(['/api/profiles?page%5Bcursor%5D=abc&page%5Bsize%5D=100']);
    expect(pages[0].data[0].id).toBe('p9');
  });

  it('refuses a checkpoint URL that belongs to another table', async () => {
    const startUrl = `${server.baseUrl}/api/events?page%5Bcursor%5D=abc`;
    const err = await failureOf(readAll(newClient().pages({ table: profiles, startUrl })));
    expect(err).toBeInstanceOf(KlaviyoBadRequestError);
  });

  it('returns the account behind the key', async () => {
    server.handle((_req, res) =>
      sendJson(res, 200, { data: [{ type: 'account', id: 'AbC123', attributes: { timezone: 'Europe/Paris' } }] }),
    );
    const account = await newClient().getAccount();
    expect(server.requests[0].url).toBe('/api/accounts');
    expect(account).toEqual({ id: 'AbC123', attributes: { timezone: 'Europe/Paris' } });
  });

  it('reports every attempt to onRequest with its status and size', async () => {
    let calls = 0;
    server.handle((_req, res) =>
      ++calls === 1
        ? sendJson(res, 503, errorBody(503, 'error', 'busy'))
        : sendJson(res, 200, profilesPage(['p1'], null)),
    );
    const seen: { status: number; bytes: number }[] = [];
    await readAll(
      newClient({ onRequest: ({ status, bytes }) => seen.push({ status, bytes }) }).pages({ table: profiles }),
    );
    expect(seen.map((s) => s.status)).toEqual([503, 200]);
    expect(seen[1].bytes).toBe(JSON.stringify(profilesPage(['p1'], null)).length);
  });
});

describe('KlaviyoClient prefetch', () => {
  const secondPage = '/api/profiles?page%5Bcursor%5D=two';

  it('fetches the next page while the consumer still handles the current one', async () => {
    server.handle((req, res) =>
      req.url === secondPage
        ? sendJson(res, 200, profilesPage(['p2'], null))
        : sendJson(res, 200, profilesPage(['p1'], `https://a.klaviyo.com${secondPage}`)),
    );
    const pages = newClient().pages({ table: profiles });
    await pages.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.requests.map((r) => r.url)).toContain(secondPage);
    await pages.return(undefined);
  });

  it('cancels the prefetched request when the consumer stops early', async () => {
    let secondAborted: Promise<boolean> = Promise.resolve(false);
    server.handle((req, res) => {
      if (req.url !== secondPage) return sendJson(res, 200, profilesPage(['p1'], `https://a.klaviyo.com${secondPage}`));
      secondAborted = new Promise((resolve) => res.once('close', () => resolve(!res.writableEnded)));
      setTimeout(() => res.destroyed || sendJson(res, 200, profilesPage(['p2'], null)), 2_000);
    });
    for await (const page of newClient().pages({ table: profiles })) {
      expect(page.data[0].id).toBe('p1');
      await new Promise((resolve) => setTimeout(resolve, 100));
      break;
    }
    expect(await secondAborted).toBe(true);
  });
});

describe('KlaviyoClient read-ahead', () => {
  /** /p/1 … /p/<count>, each page linking the next; `wrongFirst` makes the first answer of a page invalid. */
  function chain(count: number, options: { wrongFirst?: number; wrongLink?: string } = {}) {
    const answered = new Map<number, number>();
    server.handle((req, res) => {
      const n = Number(/^\/p\/(\d+)/.exec(req.url ?? '')?.[1] ?? 1);
      const times = (answered.get(n) ?? 0) + 1;
      answered.set(n, times);
      if (req.url === options.wrongLink) return sendJson(res, 200, profilesPage(['wrong'], null));
      if (n === options.wrongFirst && times === 1) {
        // Valid JSON with a readable tail, but an attribute of the wrong type: rejected, then retried.
        const bad = {
          data: [profile(`p${n}`, { email: 42 })],
          links: { next: `${server.baseUrl}${options.wrongLink}` },
        };
        return sendJson(res, 200, bad);
      }
      const next = n < count ? `${server.baseUrl}/p/${n + 1}` : null;
      return sendJson(res, 200, profilesPage([`p${n}`], next));
    });
  }
  const requested = () => server.requests.map((r) => r.url);

  it('asks for the page after next as soon as the next one has come, and no further', async () => {
    chain(6);
    const pages = newClient().pages({ table: profiles, startUrl: `${server.baseUrl}/api/profiles` });
    const first = await pages.next();
    expect((first.value as KlaviyoPage).data[0].id).toBe('p1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The consumer holds page 1: pages 2 and 3 are read ahead, page 4 waits until page 2 is taken.
    expect(requested()).toEqual(['/api/profiles', '/p/2', '/p/3']);
    await pages.next();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(requested()).toEqual(['/api/profiles', '/p/2', '/p/3', '/p/4']);
    await pages.return(undefined);
  });

  it('reads only the first page, nothing ahead, when asked for the first page alone', async () => {
    chain(3);
    const page = await newClient().firstPage({ table: profiles, pageSize: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(page.data[0].id).toBe('p1');
    expect(page.nextUrl).toBe(`${server.baseUrl}/p/2`);
    expect(requested()).toEqual(['/api/profiles?page%5Bsize%5D=1']);
  });

  it('reads every page once and in order', async () => {
    chain(7);
    const pages = await readAll(newClient().pages({ table: profiles, startUrl: `${server.baseUrl}/api/profiles` }));
    expect(pages.map((p) => p.data[0].id)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    expect(requested()).toEqual(['/api/profiles', '/p/2', '/p/3', '/p/4', '/p/5', '/p/6', '/p/7']);
  });

  it('drops a page read ahead on the link of an answer that failed validation, and follows the valid one', async () => {
    chain(3, { wrongFirst: 2, wrongLink: '/p/99-wrong' });
    const pages = await readAll(newClient().pages({ table: profiles, startUrl: `${server.baseUrl}/api/profiles` }));
    expect(pages.map((p) => p.data[0].id)).toEqual(['p1', 'p2', 'p3']);
    expect(requested().filter((url) => url === '/p/2')).toHaveLength(2);
  });
});

describe('peekNextLink', () => {
  const read = (text: string) => peekNextLink(Buffer.from(text));

  it('reads links.next off the tail of a page', () => {
    expect(read('{"data":[{"id":"1","links":{"self":"s"}}],"links":{"self":"a","next":"https://x/p?c=2"}}')).toBe(
      'https://x/p?c=2',
    );
    expect(read('{"data": [], "links": {"next": "https://x/n"}}\n')).toBe('https://x/n');
  });

  it('says "no next page" when the last page says so', () => {
    expect(read('{"data":[],"links":{"self":"a","next":null}}')).toBeNull();
    expect(read('{"data":[],"links":{"self":"a"}}')).toBeNull();
  });

  it.each([
    ['a links member nested in the last resource', '{"data":[{"id":"1","links":{"next":"n"}}]}'],
    ['links followed by more members', '{"data":[],"links":{"next":"n"},"included":[]}'],
    ['a truncated page', '{"data":[],"links":{"next":"n"'],
    ['links quoted inside a string', '{"data":[{"note":"\\"links\\":{\\"next\\":\\"n\\"}"}]}'],
    ['a next that is not a string', '{"data":[],"links":{"next":2}}'],
    ['links that is not an object', '{"data":[],"links":"n"}'],
    ['an empty body', ''],
  ])('cannot tell from %s', (_case, text) => {
    expect(read(text)).toBeUndefined();
  });
});

describe('KlaviyoClient retries', () => {
  it('retries a 5xx answer and returns the page that follows', async () => {
    let calls = 0;
    server.handle((_req, res) =>
      ++calls < 3
        ? sendJson(res, 502, errorBody(502, 'error', 'bad gateway'))
        : sendJson(res, 200, profilesPage(['p1'], null)),
    );
    const pages = await readAll(newClient().pages({ table: profiles }));
    expect(server.requests).toHaveLength(3);
    expect(pages[0].data.map((r) => r.id)).toEqual(['p1']);
  });

  it('retries after a connection reset', async () => {
    let calls = 0;
    server.handle((req, res) =>
      ++calls === 1 ? req.socket.destroy() : sendJson(res, 200, profilesPage(['p1'], null)),
    );
    const pages = await readAll(newClient().pages({ table: profiles }));
    expect(pages[0].data.map((r) => r.id)).toEqual(['p1']);
  });

  it('retries a truncated body instead of loading it', async () => {
    let calls = 0;
    server.handle((_req, res) => {
      const text = JSON.stringify(profilesPage(['p1'], null));
      if (++calls === 1) {
        res.writeHead(200, { 'content-type': 'application/vnd.api+json' });
        res.end(text.slice(0, text.length / 2));
      } else sendJson(res, 200, profilesPage(['p1'], null));
    });
    const pages = await readAll(newClient().pages({ table: profiles }));
    expect(server.requests).toHaveLength(2);
    expect(pages[0].data.map((r) => r.id)).toEqual(['p1']);
  });

  it('gives up with a retryable server error after the configured number of attempts', async () => {
    server.handle((_req, res) => sendJson(res, 503, errorBody(503, 'error', 'Service unavailable')));
    const err = await failureOf(readAll(newClient().pages({ table: profiles })));
    expect(server.requests).toHaveLength(3);
    expect(err).toBeInstanceOf(KlaviyoServerError);
    expect(err).toMatchObject({ type: 'KlaviyoServerError', retryable: true, status: 503, attempts: 3 });
  });

  it('fails with a malformed-response error naming what did not fit when every answer is wrong', async () => {
    server.handle((_req, res) => sendJson(res, 200, { data: [profile('p1', { email: 42 })] }));
    const err = await failureOf(readAll(newClient().pages({ table: profiles })));
    expect(err).toBeInstanceOf(KlaviyoMalformedResponseError);
    expect(err.message).toContain('data.0.attributes.email');
  });

  it('waits as long as Retry-After asks before sending again', async () => {
    let calls = 0;
    server.handle((_req, res) =>
      ++calls === 1
        ? sendJson(res, 429, errorBody(429, 'throttled', 'Request was throttled.'), { 'retry-after': '0.3' })
        : sendJson(res, 200, profilesPage(['p1'], null)),
    );
    await readAll(newClient().pages({ table: profiles }));
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(290);
  });

  it("makes every caller of the account's tier wait after a 429", async () => {
    let calls = 0;
    server.handle((_req, res) =>
      ++calls === 1
        ? sendJson(res, 429, errorBody(429, 'throttled', 'Request was throttled.'), { 'retry-after': '0.3' })
        : sendJson(res, 200, profilesPage(['p1'], null)),
    );
    const client = newClient();
    await readAll(client.pages({ table: profiles }));
    const tier = accountRateBudget(client.accountKey).tier({ burst: 75, steady: 750 });
    expect(tier.pausedUntilTime).toBeGreaterThanOrEqual(server.requests[0].at + 290);
  });

  it('backs off instead of retrying at once when a 429 has no Retry-After', async () => {
    let calls = 0;
    server.handle((_req, res) =>
      ++calls === 1
        ? sendJson(res, 429, errorBody(429, 'throttled', 'Request was throttled.'))
        : sendJson(res, 200, profilesPage(['p1'], null)),
    );
    await readAll(newClient({ retry: { attempts: 3, baseDelayMs: 200, maxDelayMs: 200 } }).pages({ table: profiles }));
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(95);
  });

  it('fails with a throttled error, without waiting, when Retry-After exceeds its patience', async () => {
    server.handle((_req, res) =>
      sendJson(res, 429, errorBody(429, 'throttled', 'Expected available in 60 seconds.'), { 'retry-after': '60' }),
    );
    const started = Date.now();
    const err = await failureOf(readAll(newClient({ maxThrottleWaitMs: 1_000 }).pages({ table: profiles })));
    // About time: it must not wait out the 60 s. Idle it fails in milliseconds; 20 s leaves a loaded machine room
    // many times over and still tells a wait of 60 s (or of its 1 s patience, repeated) apart.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(server.requests).toHaveLength(1);
    expect(err).toBeInstanceOf(KlaviyoThrottledError);
    expect(err).toMatchObject({ retryable: true });
  });

  it('stops waiting as soon as the signal aborts', async () => {
    server.handle((_req, res) => sendJson(res, 503, errorBody(503, 'error', 'busy')));
    const controller = new AbortController();
    const client = newClient({ retry: { attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 } });
    setTimeout(() => controller.abort(new Error('activity cancelled')), 100);
    const started = Date.now();
    const err = await failureOf(readAll(client.pages({ table: profiles, signal: controller.signal })));
    expect(err.message).toBe('activity cancelled');
    // About time: the abort must cut the 10 s backoff short. Idle it ends ~100 ms after the start; 5 s fits a loaded
    // machine many times over and is still half the backoff it cuts.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.requests).toHaveLength(1);
  });
});

describe('KlaviyoClient errors', () => {
  it('reports a rejected key in words, without retrying', async () => {
    server.handle((_req, res) =>
      sendJson(res, 401, errorBody(401, 'authentication_failed', 'Incorrect authentication credentials.')),
    );
    const err = await failureOf(newClient().getAccount());
    expect(server.requests).toHaveLength(1);
    expect(err).toBeInstanceOf(KlaviyoInvalidApiKeyError);
    expect(err.message).toMatch(/^Klaviyo rejected the API key pk_…wxyz: Incorrect authentication credentials\./);
  });

  it('names the table and its scopes when the key lacks a scope', async () => {
    server.handle((_req, res) =>
      sendJson(res, 403, errorBody(403, 'permission_denied', 'You do not have permission to perform this action.')),
    );
    const err = await failureOf(readAll(newClient().pages({ table: profiles })));
    expect(err).toBeInstanceOf(KlaviyoMissingScopeError);
    expect(err.message).toContain('"profiles"');
    expect(err.message).toContain('profiles:read');
  });

  it("passes Klaviyo's detail and parameter on a bad request, without retrying", async () => {
    server.handle((_req, res) =>
      sendJson(
        res,
        400,
        errorBody(400, 'invalid', "'nope' is not a valid field for the resource 'profile'.", 'filter'),
      ),
    );
    const err = await failureOf(readAll(newClient().pages({ table: profiles, filter: "equals(nope,'x')" })));
    expect(server.requests).toHaveLength(1);
    expect(err).toBeInstanceOf(KlaviyoBadRequestError);
    expect(err).toMatchObject({ retryable: false, parameter: 'filter' });
    expect(err.message).toContain("'nope' is not a valid field");
  });

  it('masks the key when Klaviyo echoes it in an error', async () => {
    server.handle((_req, res) => sendJson(res, 400, errorBody(400, 'invalid', `key ${API_KEY} is malformed`)));
    const err = await failureOf(readAll(newClient().pages({ table: profiles })));
    expect(err.message).toContain('key pk_…wxyz is malformed');
    expectKeyNowhereIn(err, API_KEY);
  });

  it('does not show the key when the client itself is inspected or serialised', () => {
    const client = newClient();
    expect(inspect(client, { depth: 10, showHidden: true })).not.toContain(API_KEY);
    expect(JSON.stringify(client)).not.toContain(API_KEY);
  });

  it('refuses options without a usable key, without echoing it', () => {
    expect(() => new KlaviyoClient({ apiKey: `${API_KEY}\n` })).toThrow(/apiKey contains whitespace/);
    let message = '';
    try {
      new KlaviyoClient({ apiKey: `${API_KEY}\n` });
    } catch (err) {
      message = String(err);
    }
    expect(message).not.toContain(API_KEY);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and ignores what it cannot read', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('stays between half and all of the doubled base, capped by the maximum', () => {
    for (let i = 0; i < 100; i++) {
      const third = backoffDelay(3, 100, 10_000);
      expect(third).toBeGreaterThanOrEqual(200);
      expect(third).toBeLessThanOrEqual(400);
      expect(backoffDelay(20, 100, 1_000)).toBeLessThanOrEqual(1_000);
    }
  });
});
