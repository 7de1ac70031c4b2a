import { getTable } from '../../klaviyo/catalog';
import type { RetryInfo } from '../../klaviyo/client-options';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import type { KlaviyoPage } from '../../klaviyo/paging';
import { retryingWords } from '../../activities/extract-table';
import { startSandbox, type Sandbox } from '../../sandbox/server';

/**
 * While the client retries a page (a 503 storm, a reset), nothing arrives for up to a minute: the client says why
 * before each wait, so the run's progress can read "events: Klaviyo 503, attempt 3/5, next in 8 s".
 */
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 3, sizes: { profiles: 30, events: 30 }, rateLimits: { enabled: false } });
});

afterAll(async () => sandbox.close());

async function drain(pages: AsyncIterable<KlaviyoPage>): Promise<void> {
  for await (const _page of pages) {
    // Only the retries matter.
  }
}

test('each wait between attempts at a page is reported with its reason, the attempt and the wait', async () => {
  sandbox.setFaults({ rules: [{ table: 'events', page: 1, times: 2, kind: 'status', status: 503 }] });
  const reported: RetryInfo[] = [];
  const client = new KlaviyoClient({
    apiKey: sandbox.keys.full,
    baseUrl: sandbox.baseUrl,
    rateLimits: { enabled: false },
    retry: { attempts: 5, baseDelayMs: 5, maxDelayMs: 20 },
    onRetry: (info) => reported.push(info),
  });
  try {
    await drain(client.pages({ table: getTable('events') }));
  } finally {
    client.close();
    sandbox.setFaults({});
  }
  expect(reported.map(({ table, reason, attempt, attempts }) => ({ table, reason, attempt, attempts }))).toEqual([
    { table: 'events', reason: 'Klaviyo 503', attempt: 2, attempts: 5 },
    { table: 'events', reason: 'Klaviyo 503', attempt: 3, attempts: 5 },
  ]);
  expect(reported.every((r) => r.waitMs > 0 && r.waitMs <= 20)).toBe(true);
});

test('a hook that throws changes nothing the client does', async () => {
  sandbox.setFaults({ rules: [{ table: 'events', page: 1, times: 1, kind: 'reset' }] });
  const client = new KlaviyoClient({
    apiKey: sandbox.keys.full,
    baseUrl: sandbox.baseUrl,
    rateLimits: { enabled: false },
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    onRetry: () => {
      throw new Error('a broken reporter');
    },
  });
  try {
    await expect(drain(client.pages({ table: getTable('events') }))).resolves.toBeUndefined();
  } finally {
    client.close();
    sandbox.setFaults({});
  }
});

test('the progress words name the reason, the attempt of how many, and the wait in seconds', () => {
  expect(retryingWords({ reason: 'Klaviyo 503', attempt: 3, attempts: 5, waitMs: 7_600 })).toBe(
    'Klaviyo 503, attempt 3/5, next in 8 s',
  );
  expect(retryingWords({ reason: 'no answer from Klaviyo', attempt: 2, attempts: 5, waitMs: 120 })).toBe(
    'no answer from Klaviyo, attempt 2/5, next in 1 s',
  );
});
