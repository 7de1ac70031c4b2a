import { getTable } from '../../activities/klaviyo/catalog';
import { KlaviyoClient, type RequestInfo } from '../../activities/klaviyo/klaviyo-client';
import { startSandbox, type Sandbox } from '../../sandbox/server';

/**
 * With Klaviyo's real limits on (scale 1), four concurrent readers of one account share its rate budget and
 * keep the profiles endpoint (tier L: 75/s, 750/min) busy for two minutes: they must get at least 90% of
 * the steady limit through, and never be refused with a 429 they cannot recover from.
 */

const DURATION_MS = 120_000;
const STEADY_PER_MINUTE = 750;
const READERS = 4;

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 5,
    sizes: { profiles: 40_000, events: 0 },
    rateLimits: { enabled: true, scale: 1 },
  });
});

afterAll(async () => {
  await sandbox.close();
});

it(
  'keeps four readers of one account at ≥90% of the L tier for two minutes without an unrecovered 429',
  async () => {
    const seen: RequestInfo[] = [];
    const clients = Array.from(
      { length: READERS },
      () =>
        new KlaviyoClient({
          apiKey: sandbox.keys.full,
          baseUrl: sandbox.baseUrl,
          accountKey: 'rate-limit-test-account',
          onRequest: (info) => seen.push(info),
        }),
    );
    const started = Date.now();
    const deadline = started + DURATION_MS;
    const profiles = getTable('profiles');
    // Small pages so that two minutes of requests do not exhaust the table.
    const read = async (client: KlaviyoClient) => {
      let rows = 0;
      while (Date.now() < deadline) {
        for await (const page of client.pages({ table: profiles, fields: ['email'], pageSize: 10 })) {
          rows += page.data.length;
          if (Date.now() >= deadline) break;
        }
      }
      return rows;
    };
    const outcomes = await Promise.allSettled(clients.map((client) => read(client)));
    for (const client of clients) client.close();

    const served = sandbox.requestLog().filter((e) => Date.parse(e.time) >= started && Date.parse(e.time) < deadline);
    const ok = served.filter((e) => e.status === 200).length;
    const throttled = served.filter((e) => e.status === 429).length;
    const steadyLimit = (STEADY_PER_MINUTE * DURATION_MS) / 60_000;
    const failures = outcomes
      .filter((o) => o.status === 'rejected')
      .map((o) => String((o as PromiseRejectedResult).reason));
    console.log(
      `profiles, ${READERS} readers, ${DURATION_MS / 1000} s: ${ok} requests answered 200 ` +
        `(${((100 * ok) / steadyLimit).toFixed(1)}% of the steady limit ${steadyLimit}), ${throttled} answered 429, ` +
        `${seen.length} attempts seen by the client, reader failures: ${failures.length}`,
    );

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThanOrEqual(0.9 * steadyLimit);
    expect(ok).toBeLessThanOrEqual(steadyLimit);
    expect(throttled).toBe(0);
  },
  DURATION_MS + 60_000,
);
