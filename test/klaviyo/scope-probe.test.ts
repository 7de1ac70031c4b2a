import { CATALOG } from '../../klaviyo/catalog';
import { KlaviyoInvalidApiKeyError } from '../../klaviyo/errors';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import { missingScopes } from '../../klaviyo/scope-probe';
import { startSandbox, type Sandbox } from '../../sandbox/server';

/**
 * The scope check of the wizard's Connect step and of every run's start: the account first, then one probe per scope,
 * all in flight together (over the internet, one after another they cost a round trip each).
 */
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5, sizes: { profiles: 20, events: 20 }, rateLimits: { enabled: false } });
});

afterAll(async () => sandbox.close());

function client(apiKey: string): KlaviyoClient {
  return new KlaviyoClient({ apiKey, baseUrl: sandbox.baseUrl, rateLimits: { enabled: false } });
}

const time = (at: string) => Date.parse(at);

test('every scope is probed once, the probes in flight together after the account answered', async () => {
  // Each answer takes 150 ms: probes one after another could not overlap.
  sandbox.setLatency({ baseMs: 150 });
  sandbox.resetRequestLog();
  const c = client(sandbox.keys.noProfiles);
  try {
    const { missing, accountId } = await missingScopes(c, CATALOG);
    expect([...missing]).toEqual(['profiles:read']);
    expect(accountId).toEqual(expect.any(String));
  } finally {
    c.close();
    sandbox.setLatency({});
  }
  const [account, ...probes] = sandbox.requestLog();
  expect(account.table).toBe('accounts');
  const scopes = new Set(CATALOG.flatMap((t) => t.scopes));
  scopes.delete('accounts:read');
  // One probe per scope that a table needs alone (no scope is probed twice).
  expect(probes.length).toBeGreaterThan(10);
  expect(probes.length).toBeLessThanOrEqual(scopes.size);
  expect(new Set(probes.map((p) => p.table)).size).toBe(probes.length);
  const accountAnswered = time(account.time) + account.durationMs;
  expect(probes.every((p) => time(p.time) >= accountAnswered - 1)).toBe(true);
  // Every probe was asked before the first one was answered.
  const firstAnswer = Math.min(...probes.map((p) => time(p.time) + p.durationMs));
  expect(Math.max(...probes.map((p) => time(p.time)))).toBeLessThan(firstAnswer);
});

test('a wrong key ends at the account, with one request and the key refused', async () => {
  sandbox.resetRequestLog();
  const c = client('pk_' + 'x'.repeat(34));
  try {
    await expect(missingScopes(c, CATALOG)).rejects.toBeInstanceOf(KlaviyoInvalidApiKeyError);
  } finally {
    c.close();
  }
  expect(sandbox.requestLog().map((e) => e.table)).toEqual(['accounts']);
});
