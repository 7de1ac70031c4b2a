import { startSandbox, type Sandbox } from '../../sandbox/server';
import { get } from './http-helpers';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 4, sizes: { profiles: 100, events: 400 }, rateLimits: { enabled: false } });
});

beforeEach(() => sandbox.setFaults({}));

afterAll(() => sandbox.close());

/** The URL of page n of events at 50 per page. */
async function eventsPage(n: number): Promise<string> {
  let url = `${sandbox.baseUrl}/api/events?page[size]=50`;
  for (let page = 1; page < n; page++) url = (await get(sandbox, url)).body.links.next!;
  return url;
}

describe('deterministic fault rules', () => {
  test('"page 3 of events fails 2 times" fails exactly the first two requests for that page', async () => {
    const page3 = await eventsPage(3);
    sandbox.setFaults({ rules: [{ table: 'events', page: 3, times: 2, status: 503 }] });
    expect((await get(sandbox, '/api/events?page[size]=50')).status).toBe(200);
    expect((await get(sandbox, page3)).status).toBe(503);
    expect((await get(sandbox, page3)).status).toBe(503);
    const third = await get(sandbox, page3);
    expect(third.status).toBe(200);
    expect(third.body.data).toHaveLength(50);
  });

  test('a rule with a sort fails only requests sorted that way', async () => {
    sandbox.setFaults({ rules: [{ table: 'events', sort: 'datetime', times: 1, status: 503 }] });
    expect((await get(sandbox, '/api/events?page[size]=50')).status).toBe(200);
    expect((await get(sandbox, '/api/events?sort=-datetime&page[size]=1')).status).toBe(200);
    expect((await get(sandbox, '/api/events?sort=datetime&page[size]=50')).status).toBe(503);
    expect((await get(sandbox, '/api/events?sort=datetime&page[size]=50')).status).toBe(200);
  });

  test('"profiles always fails" fails every profiles request and nothing else', async () => {
    sandbox.setFaults({ rules: [{ table: 'profiles', status: 500 }] });
    for (let i = 0; i < 3; i++) {
      const answer = await get(sandbox, '/api/profiles');
      expect(answer.status).toBe(500);
      expect(answer.body.errors?.[0].status).toBe(500);
    }
    expect((await get(sandbox, '/api/lists')).status).toBe(200);
  });

  test('a reset rule destroys the connection without an answer', async () => {
    sandbox.setFaults({ rules: [{ table: 'lists', kind: 'reset', times: 1 }] });
    await expect(get(sandbox, '/api/lists')).rejects.toThrow();
    expect((await get(sandbox, '/api/lists')).status).toBe(200);
  });

  test('a truncate rule answers 200 with a body that is not complete JSON', async () => {
    sandbox.setFaults({ rules: [{ table: 'lists', kind: 'truncate' }] });
    const answer = await get(sandbox, '/api/lists');
    expect(answer.status).toBe(200);
    expect(answer.body).toBeUndefined();
    expect(answer.text.startsWith('{"data":[')).toBe(true);
  });

  test('a malformed rule answers 200 with invalid JSON', async () => {
    sandbox.setFaults({ rules: [{ table: 'lists', kind: 'malformed' }] });
    const answer = await get(sandbox, '/api/lists');
    expect(answer.status).toBe(200);
    expect(() => JSON.parse(answer.text)).toThrow();
  });

  test('a slow rule delays the answer by delayMs', async () => {
    sandbox.setFaults({ rules: [{ table: 'lists', kind: 'slow', delayMs: 300 }] });
    const started = Date.now();
    expect((await get(sandbox, '/api/lists')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  test('faults given at start apply from the first request', async () => {
    const other = await startSandbox({
      seed: 4,
      sizes: { profiles: 10, events: 10 },
      faults: { rules: [{ table: 'accounts', status: 503 }] },
    });
    try {
      expect((await get(other, '/api/accounts')).status).toBe(503);
    } finally {
      await other.close();
    }
  });
});

describe('random faults', () => {
  async function statuses(count: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push((await get(sandbox, '/api/lists')).status);
    return out;
  }

  test('an error rate fails about that share of requests with the given statuses', async () => {
    sandbox.setFaults({ errorRate: 0.3, errorStatuses: [500, 503], seed: 99 });
    const seen = await statuses(200);
    const failures = seen.filter((s) => s !== 200);
    expect(failures.length).toBeGreaterThan(35);
    expect(failures.length).toBeLessThan(85);
    expect(new Set(failures)).toEqual(new Set([500, 503]));
  });

  test('the same fault seed gives the same sequence of answers', async () => {
    sandbox.setFaults({ errorRate: 0.5, seed: 7 });
    const first = await statuses(30);
    sandbox.setFaults({ errorRate: 0.5, seed: 7 });
    expect(await statuses(30)).toEqual(first);
    sandbox.setFaults({ errorRate: 0.5, seed: 8 });
    expect(await statuses(30)).not.toEqual(first);
  });

  test('an invalid fault configuration is refused', () => {
    expect(() => sandbox.setFaults({ errorRate: 2 })).toThrow();
    expect(() => sandbox.setFaults({ rules: [{ kind: 'explode' as never }] })).toThrow();
  });
});
