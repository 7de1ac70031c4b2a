import net from 'node:net';
import { getTable } from '../../klaviyo/catalog';
// Every class of the module is under test, so they are read as the module's members.
import * as errors from '../../klaviyo/errors';
import type { KlaviyoClientOptions } from '../../klaviyo/client-options';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import type { KlaviyoPage } from '../../klaviyo/paging';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { expectKeyNowhereIn } from './secret-leak-check';

/**
 * Every failure a user can meet, against the sandbox over real HTTP: the error's class and type, whether
 * a retry can help, the words the user reads, and that the key appears in none of its text forms.
 */

let sandbox: Sandbox;
const clients: KlaviyoClient[] = [];
const profiles = getTable('profiles');

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 9, sizes: { profiles: 300, events: 300 }, rateLimits: { enabled: false } });
});

afterEach(() => {
  sandbox.setFaults({});
  sandbox.setRateLimits({ enabled: false });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await sandbox.close();
});

function newClient(apiKey: string, options: Partial<KlaviyoClientOptions> = {}): KlaviyoClient {
  const client = new KlaviyoClient({
    apiKey,
    baseUrl: sandbox.baseUrl,
    rateLimits: { enabled: false },
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  clients.push(client);
  return client;
}

async function drain(pages: AsyncIterable<KlaviyoPage>): Promise<void> {
  for await (const _page of pages) {
    // Only the failure matters.
  }
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

it('reports a wrong key as an invalid key, not retryable, in words naming the masked key', async () => {
  const wrongKey = 'pk_' + 'x9Y8w7V6u5T4s3R2q1P0o9N8m7L6k5J4ab12';
  const err = await failureOf(newClient(wrongKey).getAccount());
  expect(err).toBeInstanceOf(errors.KlaviyoInvalidApiKeyError);
  expect(err).toMatchObject({ type: 'KlaviyoInvalidApiKey', retryable: false, status: 401 });
  expect(err.message).toMatch(/^Klaviyo rejected the API key pk_…ab12: Incorrect authentication credentials\./);
  expectKeyNowhereIn(err, wrongKey);
});

it('reports a revoked key as an invalid key once Klaviyo stops accepting it', async () => {
  const key = sandbox.createKey('read-only');
  const client = newClient(key);
  await client.getAccount();
  sandbox.revokeKey(key);
  const err = await failureOf(drain(client.pages({ table: profiles })));
  expect(err).toBeInstanceOf(errors.KlaviyoInvalidApiKeyError);
  expect(err).toMatchObject({ retryable: false });
  expect(err.message).toContain('Klaviyo rejected the API key');
  expectKeyNowhereIn(err, key);
});

it('names the table and the scope a key lacks, not retryable', async () => {
  const key = sandbox.keys.noProfiles;
  const err = await failureOf(drain(newClient(key).pages({ table: profiles })));
  expect(err).toBeInstanceOf(errors.KlaviyoMissingScopeError);
  expect(err).toMatchObject({ type: 'KlaviyoMissingScope', retryable: false, status: 403, scopes: ['profiles:read'] });
  expect(err.message).toContain('not allowed to read the table "profiles"');
  expect(err.message).toContain('profiles:read');
  expectKeyNowhereIn(err, key);
});

it("passes Klaviyo's detail on a bad filter, not retryable and sent only once", async () => {
  const key = sandbox.keys.full;
  let attempts = 0;
  const client = newClient(key, { onRequest: () => attempts++ });
  const err = await failureOf(drain(client.pages({ table: profiles, filter: "equals(shoe_size,'42')" })));
  expect(err).toBeInstanceOf(errors.KlaviyoBadRequestError);
  expect(err).toMatchObject({ type: 'KlaviyoBadRequest', retryable: false, status: 400, parameter: 'filter' });
  expect(err.message).toContain('shoe_size');
  expect(attempts).toBe(1);
  expectKeyNowhereIn(err, key);
});

it('reports a parent that no longer exists as not found, not retryable', async () => {
  const key = sandbox.keys.full;
  const err = await failureOf(drain(newClient(key).pages({ table: getTable('list_memberships'), parentId: 'GONE00' })));
  expect(err).toBeInstanceOf(errors.KlaviyoNotFoundError);
  expect(err).toMatchObject({ type: 'KlaviyoNotFound', retryable: false, status: 404 });
  expect(err.message).toContain('may have been deleted');
  expectKeyNowhereIn(err, key);
});

it('gives up on throttling beyond its patience with a retryable throttled error', async () => {
  const key = sandbox.keys.full;
  sandbox.setRateLimits({ enabled: true, scale: 1 });
  // No client-side budget, so the second call hits the XS tier's 1/s burst; Retry-After (1 s) exceeds patience.
  const client = newClient(key, { maxThrottleWaitMs: 500 });
  const results = await Promise.allSettled([client.getAccount(), client.getAccount()]);
  const err = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as Error;
  expect(err).toBeInstanceOf(errors.KlaviyoThrottledError);
  expect(err).toMatchObject({ type: 'KlaviyoThrottled', retryable: true, status: 429 });
  expect(err.message).toContain('Klaviyo kept throttling the table "accounts" (rate tier XS)');
  expect(err.message).toContain('run the dataflow again later');
  expectKeyNowhereIn(err, key);
});

it('reports persistent 5xx answers as a retryable server error after every attempt', async () => {
  const key = sandbox.keys.full;
  sandbox.setFaults({ errorRate: 1, errorStatuses: [503] });
  const err = await failureOf(drain(newClient(key).pages({ table: profiles })));
  expect(err).toBeInstanceOf(errors.KlaviyoServerError);
  expect(err).toMatchObject({ type: 'KlaviyoServerError', retryable: true, status: 503, attempts: 3 });
  expect(err.message).toContain('Klaviyo answered HTTP 503 to 3 attempt(s) to read the table "profiles"');
  expectKeyNowhereIn(err, key);
});

it('reports an unreachable base URL as a retryable network error naming the address', async () => {
  const key = sandbox.keys.full;
  const closedPort = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const baseUrl = `http://127.0.0.1:${closedPort}`;
  const err = await failureOf(newClient(key, { baseUrl }).getAccount());
  expect(err).toBeInstanceOf(errors.KlaviyoNetworkError);
  expect(err).toMatchObject({ type: 'KlaviyoNetworkError', retryable: true, code: 'ECONNREFUSED', attempts: 3 });
  expect(err.message).toContain(`Could not reach Klaviyo at ${baseUrl} (connection refused) after 3 attempt(s)`);
  expectKeyNowhereIn(err, key);
});

it('reports answers that are not JSON as a retryable malformed-response error', async () => {
  const key = sandbox.keys.full;
  sandbox.setFaults({ malformedRate: 1 });
  const err = await failureOf(drain(newClient(key).pages({ table: profiles })));
  expect(err).toBeInstanceOf(errors.KlaviyoMalformedResponseError);
  expect(err).toMatchObject({ type: 'KlaviyoMalformedResponse', retryable: true, attempts: 3 });
  expect(err.message).toContain('does not match its API (the body is not complete JSON)');
  expect(err.message).toContain('Nothing from it was loaded');
  expectKeyNowhereIn(err, key);
});
