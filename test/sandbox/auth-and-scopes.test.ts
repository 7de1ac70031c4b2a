import { startSandbox, type Sandbox } from '../../sandbox/server';
import { firstError, get } from './http-helpers';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5, sizes: { profiles: 40, events: 100 }, rateLimits: { enabled: false } });
});

afterAll(() => sandbox.close());

describe('authentication', () => {
  test('the standard keys look like real private keys', () => {
    for (const key of Object.values(sandbox.keys)) expect(key).toMatch(/^pk_[A-Za-z0-9]{34}$/);
    expect(new Set(Object.values(sandbox.keys)).size).toBe(3);
  });

  test('no Authorization header is 401 not_authenticated', async () => {
    const answer = await get(sandbox, '/api/profiles', { key: null });
    expect(answer.status).toBe(401);
    expect(firstError(answer)).toMatchObject({
      status: 401,
      code: 'not_authenticated',
      title: 'Authentication credentials were not provided.',
    });
  });

  test('another scheme (Bearer) is 401 not_authenticated', async () => {
    const answer = await get(sandbox, '/api/profiles', { authorization: `Bearer ${sandbox.keys.full}` });
    expect(answer.status).toBe(401);
    expect(firstError(answer).code).toBe('not_authenticated');
  });

  test('an unknown key is 401 authentication_failed, and the key is not echoed', async () => {
    const unknown = 'pk_' + 'x'.repeat(34);
    const answer = await get(sandbox, '/api/profiles', { key: unknown });
    expect(answer.status).toBe(401);
    expect(firstError(answer)).toMatchObject({
      code: 'authentication_failed',
      title: 'Incorrect authentication credentials.',
    });
    expect(answer.text).not.toContain(unknown);
  });

  test('a revoked key is refused like an unknown one', async () => {
    const key = sandbox.createKey('read-only');
    expect((await get(sandbox, '/api/lists', { key })).status).toBe(200);
    sandbox.revokeKey(key);
    const answer = await get(sandbox, '/api/lists', { key });
    expect(answer.status).toBe(401);
    expect(firstError(answer).code).toBe('authentication_failed');
  });

  test('a missing revision header is a 400 naming the revision', async () => {
    const answer = await get(sandbox, '/api/profiles', { revision: null });
    expect(answer.status).toBe(400);
    expect(firstError(answer)).toMatchObject({ code: 'invalid', source: { parameter: 'revision' } });
  });

  test('a malformed revision header is a 400', async () => {
    expect((await get(sandbox, '/api/profiles', { revision: 'latest' })).status).toBe(400);
    expect((await get(sandbox, '/api/profiles', { revision: '2026-07-15.pre' })).status).toBe(200);
  });
});

describe('scopes', () => {
  test('the noProfiles key reads lists but gets 403 permission_denied naming profiles:read on profiles', async () => {
    expect((await get(sandbox, '/api/lists', { key: sandbox.keys.noProfiles })).status).toBe(200);
    const answer = await get(sandbox, '/api/profiles', { key: sandbox.keys.noProfiles });
    expect(answer.status).toBe(403);
    const error = firstError(answer);
    expect(error.code).toBe('permission_denied');
    expect(error.detail).toContain('profiles:read');
  });

  test('an endpoint needing two scopes is refused when one is missing', async () => {
    const key = sandbox.createKey(['lists:read']);
    const answer = await get(sandbox, '/api/tags/x/relationships/lists', { key });
    expect(answer.status).toBe(403);
    expect(firstError(answer).detail).toContain('tags:read');
    expect(firstError(answer).detail).not.toContain('lists:read');
  });

  test('including a related resource needs its scope too', async () => {
    const key = sandbox.keys.noProfiles;
    expect((await get(sandbox, '/api/events?include=metric', { key })).status).toBe(200);
    const answer = await get(sandbox, '/api/events?include=metric,profile', { key });
    expect(answer.status).toBe(403);
    expect(firstError(answer).detail).toContain('profiles:read');
  });

  test('a custom key reaches exactly its scopes', async () => {
    const key = sandbox.createKey(['metrics:read']);
    expect((await get(sandbox, '/api/metrics', { key })).status).toBe(200);
    expect((await get(sandbox, '/api/accounts', { key })).status).toBe(403);
  });

  test('the read-only key reads every scope the catalog needs', async () => {
    expect((await get(sandbox, '/api/push-tokens', { key: sandbox.keys.readOnly })).status).toBe(200);
  });

  test('creating a key with an unknown scope is refused', () => {
    expect(() => sandbox.createKey(['profiles:destroy'])).toThrow(/Unknown scope/);
  });
});
