import { getTable } from '../../klaviyo/catalog';
import { KlaviyoMalformedResponseError } from '../../klaviyo/errors';
import type { KlaviyoClientOptions, RequestInfo } from '../../klaviyo/client-options';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import { startSandbox, type FaultConfig, type Sandbox } from '../../sandbox/server';

/**
 * Faults injected by the sandbox over real HTTP: 5xx answers, connection resets, truncated and malformed
 * bodies, slow answers. A read either returns exactly the sandbox's rows, each once, or fails with a typed
 * error; it never returns a wrong or repeated row.
 */

let sandbox: Sandbox;
const clients: KlaviyoClient[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 3,
    sizes: { profiles: 20_000, events: 50_000 },
    rateLimits: { enabled: false },
  });
});

afterEach(() => {
  sandbox.setFaults({});
});

afterAll(async () => {
  for (const client of clients) client.close();
  await sandbox.close();
});

function newClient(seen: RequestInfo[], options: Partial<KlaviyoClientOptions> = {}): KlaviyoClient {
  const client = new KlaviyoClient({
    apiKey: sandbox.keys.full,
    baseUrl: sandbox.baseUrl,
    rateLimits: { enabled: false },
    retry: { attempts: 8, baseDelayMs: 5, maxDelayMs: 50 },
    onRequest: (info) => seen.push(info),
    ...options,
  });
  clients.push(client);
  return client;
}

interface ReadResult {
  ids: Set<string>;
  repeated: number;
  rows: number;
}

async function readIds(client: KlaviyoClient, table: string, pageSize: number): Promise<ReadResult> {
  const ids = new Set<string>();
  let repeated = 0;
  let rows = 0;
  for await (const page of client.pages({ table: getTable(table), pageSize })) {
    for (const row of page.data) {
      rows++;
      if (ids.has(row.id)) repeated++;
      ids.add(row.id);
    }
  }
  return { ids, repeated, rows };
}

async function expectedIds(table: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const id of sandbox.expectedIds(table)) ids.add(id);
  return ids;
}

function faultSummary(seen: RequestInfo[]): string {
  const byStatus = new Map<number, number>();
  for (const info of seen) byStatus.set(info.status, (byStatus.get(info.status) ?? 0) + 1);
  return [...byStatus].map(([status, n]) => `${status === 0 ? 'no answer' : status}: ${n}`).join(', ');
}

async function readUnderFaults(faults: FaultConfig, table: string, pageSize: number) {
  sandbox.setFaults(faults);
  const seen: RequestInfo[] = [];
  const result = await readIds(newClient(seen), table, pageSize);
  console.log(`${table} under ${JSON.stringify(faults)}: ${result.rows} rows; attempts ${faultSummary(seen)}`);
  return { result, seen };
}

it('returns exactly the sandbox ids, each once, under 10% 5xx answers and 10% connection resets', async () => {
  const { result, seen } = await readUnderFaults({ errorRate: 0.1, resetRate: 0.1 }, 'profiles', 100);
  expect(seen.filter((s) => s.status === 0 || s.status >= 500).length).toBeGreaterThan(0);
  expect(result.repeated).toBe(0);
  expect(result.ids).toEqual(await expectedIds('profiles'));
});

it('returns exactly the sandbox ids, each once, under 10% truncated and 10% malformed bodies', async () => {
  const { result, seen } = await readUnderFaults({ truncateRate: 0.1, malformedRate: 0.1 }, 'events', 1000);
  expect(seen.length).toBeGreaterThan(50);
  expect(result.repeated).toBe(0);
  expect(result.ids).toEqual(await expectedIds('events'));
});

it('retries a page that answers later than the timeout and still returns every id once', async () => {
  sandbox.setFaults({ rules: [{ table: 'events', page: 2, times: 1, kind: 'slow', delayMs: 1_500 }] });
  const seen: RequestInfo[] = [];
  const result = await readIds(newClient(seen, { timeoutMs: 500 }), 'events', 1000);
  // The slow answer timed out and its page was asked again and answered. Other pages may time out too on a loaded
  // machine (a 1,000-event page can take over 500 ms there): each of those must have been answered on a retry.
  const slow = sandbox.requestLog().filter((e) => e.fault === 'slow' && e.table === 'events');
  expect(slow).toHaveLength(1);
  const timedOut = seen.filter((s) => s.status === 0).map((s) => new URL(s.url));
  expect(timedOut.some((url) => url.search.slice(1) === slow[0].query)).toBe(true);
  for (const url of timedOut) {
    expect(seen.some((s) => s.status === 200 && new URL(s.url).search === url.search)).toBe(true);
  }
  expect(result.repeated).toBe(0);
  expect(result.ids.size).toBe(sandbox.expectedCount('events'));
});

it('fails with a retryable malformed-response error, after every attempt, when a page stays malformed', async () => {
  sandbox.setFaults({ rules: [{ table: 'profiles', page: 2, kind: 'malformed' }] });
  const seen: RequestInfo[] = [];
  const loaded: string[] = [];
  let failure: unknown;
  try {
    for await (const page of newClient(seen).pages({ table: getTable('profiles'), pageSize: 100 })) {
      loaded.push(...page.data.map((r) => r.id));
    }
  } catch (err) {
    failure = err;
  }
  expect(failure).toBeInstanceOf(KlaviyoMalformedResponseError);
  expect(failure).toMatchObject({ retryable: true, attempts: 8 });
  expect((failure as Error).message).toContain('not complete JSON');
  // Only the good first page reached the consumer.
  expect(loaded).toHaveLength(100);
});
