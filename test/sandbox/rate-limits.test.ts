import { startSandbox, type Sandbox } from '../../sandbox/server';
import { firstError, get } from './http-helpers';

let sandbox: Sandbox;

beforeAll(async () => {
  // Scale 0.04: tier L (75/s, 750/min) allows 3 per second and 30 per minute; XS (1/s, 15/min) 1 and 1.
  sandbox = await startSandbox({
    seed: 8,
    sizes: { profiles: 30, events: 50 },
    rateLimits: { enabled: true, scale: 0.04 },
  });
});

beforeEach(() => sandbox.setRateLimits({ enabled: true, scale: 0.04 }));

afterAll(() => sandbox.close());

describe('rate limits', () => {
  test('a served request carries RateLimit-Limit, -Remaining and -Reset', async () => {
    const first = await get(sandbox, '/api/lists');
    const second = await get(sandbox, '/api/lists');
    expect(first.headers.get('ratelimit-limit')).toBe('30');
    expect(first.headers.get('ratelimit-remaining')).toBe('29');
    expect(second.headers.get('ratelimit-remaining')).toBe('28');
    expect(Number(first.headers.get('ratelimit-reset'))).toBeGreaterThanOrEqual(1);
  });

  test('the request over the burst limit is a 429 throttled with Retry-After in whole seconds', async () => {
    for (let i = 0; i < 3; i++) expect((await get(sandbox, '/api/profiles')).status).toBe(200);
    const answer = await get(sandbox, '/api/profiles');
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    const error = firstError(answer);
    expect(error).toMatchObject({ status: 429, code: 'throttled', title: 'Request was throttled.' });
    expect(error.detail).toBe(
      `Request was throttled. Expected available in ${answer.headers.get('retry-after')} second.`,
    );
    expect(answer.headers.get('ratelimit-remaining')).toBeNull();
  });

  test('the steady window throttles with a wait of up to a minute', async () => {
    expect((await get(sandbox, '/api/accounts')).status).toBe(200);
    const answer = await get(sandbox, '/api/accounts');
    expect(answer.status).toBe(429);
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(50);
  });

  test('all keys of the account share one budget', async () => {
    for (let i = 0; i < 3; i++)
      expect((await get(sandbox, '/api/profiles', { key: sandbox.keys.full })).status).toBe(200);
    expect((await get(sandbox, '/api/profiles', { key: sandbox.keys.readOnly })).status).toBe(429);
  });

  test('each tier has its own budget', async () => {
    for (let i = 0; i < 3; i++) await get(sandbox, '/api/profiles');
    expect((await get(sandbox, '/api/profiles')).status).toBe(429);
    expect((await get(sandbox, '/api/events')).status).toBe(200);
  });

  test('asking profiles for predictive_analytics uses the slower variant', async () => {
    const predictive = '/api/profiles?additional-fields[profile]=predictive_analytics';
    sandbox.setRateLimits({ enabled: true, scale: 0.1 }); // variant 10/s → 1/s; L 75/s → 7/s
    expect((await get(sandbox, predictive)).status).toBe(200);
    expect((await get(sandbox, predictive)).status).toBe(429);
    expect((await get(sandbox, '/api/profiles')).status).toBe(200);
  });

  test('limits switched off at run time let every request through without headers', async () => {
    sandbox.setRateLimits({ enabled: false });
    for (let i = 0; i < 10; i++) {
      const answer = await get(sandbox, '/api/accounts');
      expect(answer.status).toBe(200);
      expect(answer.headers.get('ratelimit-limit')).toBeNull();
    }
  });

  test('a larger scale raises the limits', async () => {
    sandbox.setRateLimits({ enabled: true, scale: 1 });
    for (let i = 0; i < 20; i++) expect((await get(sandbox, '/api/profiles')).status).toBe(200);
  });
});
