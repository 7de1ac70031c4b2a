import * as sdk from 'klaviyo-api';
import {
  ApiKeySession,
  CampaignsApi,
  EventsApi,
  FilterBuilder,
  ListsApi,
  MetricsApi,
  ProfilesApi,
  ReportingApi,
  RetryWithExponentialBackoff,
} from 'klaviyo-api';
import { CATALOG, type CatalogTable } from '../../klaviyo/catalog';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, tablePath } from './http-helpers';
import { sdkGetMethods, type SdkMethod } from './sdk-methods';

/**
 * Acceptance: Klaviyo's official TypeScript SDK (`klaviyo-api`), pointed at the sandbox through `basePath`, reads it
 * like the real Klaviyo — paging by `links.next`, includes, filters built by its own FilterBuilder — and surfaces the
 * sandbox's 401, 403 and 429 answers as it would Klaviyo's. Every catalog list endpoint the SDK has a method for is
 * read through that method, with the catalog's filters built by the SDK's FilterBuilder, over two pages by the SDK's
 * own cursor where there are two.
 */

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 77,
    sizes: { profiles: 260, events: 1300, lists: 14, campaigns: 40 },
    rateLimits: { enabled: false },
  });
});

afterAll(() => sandbox.close());

/** A session that surfaces errors at once: the SDK would otherwise retry 429/503 three times with backoff. */
function session(key: string, numRetries = 0): ApiKeySession {
  return new ApiKeySession(key, new RetryWithExponentialBackoff({ numRetries }));
}

function client<T extends { basePath: string }>(api: T): T {
  api.basePath = sandbox.baseUrl;
  return api;
}

/** The status and Klaviyo error code of a rejected SDK call (an axios error). */
async function failure(call: Promise<unknown>): Promise<{ status: number; code: string; retryAfter?: string }> {
  try {
    await call;
  } catch (err) {
    const response = (
      err as { response?: { status: number; data: { errors: { code: string }[] }; headers: Record<string, string> } }
    ).response;
    if (!response) throw err;
    return { status: response.status, code: response.data.errors[0].code, retryAfter: response.headers['retry-after'] };
  }
  throw new Error('expected the SDK call to fail');
}

describe('the official klaviyo-api SDK against the sandbox', () => {
  test('pages through every profile by following links.next', async () => {
    const profiles = client(new ProfilesApi(session(sandbox.keys.full)));
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { body } = await profiles.getProfiles({ pageSize: 100, pageCursor: cursor });
      ids.push(...body.data.map((p) => p.id!));
      for (const profile of body.data) expect(profile.type).toBe('profile');
      cursor = body.links?.next;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(ids).toEqual(await collect(sandbox.expectedIds('profiles')));
  });

  test('filters profiles with a FilterBuilder date filter (unquoted datetime with milliseconds)', async () => {
    const profiles = client(new ProfilesApi(session(sandbox.keys.full)));
    const since = new Date('2025-06-01T00:00:00Z');
    const filter = new FilterBuilder().greaterThan('updated', since).build();
    const { body } = await profiles.getProfiles({ filter, sort: 'updated', pageSize: 100 });
    expect(body.data.length).toBeGreaterThan(0);
    for (const profile of body.data)
      expect(new Date(profile.attributes.updated!).getTime()).toBeGreaterThan(since.getTime());
  });

  test('reads every event with include=metric,profile and finds each related resource in included', async () => {
    const events = client(new EventsApi(session(sandbox.keys.full)));
    let cursor: string | undefined;
    let count = 0;
    do {
      const { body } = await events.getEvents({ include: ['metric', 'profile'], pageSize: 500, pageCursor: cursor });
      const included = new Set((body.included ?? []).map((r) => `${r.type}:${r.id}`));
      for (const event of body.data) {
        expect(included.has(`metric:${event.relationships?.metric?.data?.id}`)).toBe(true);
        expect(included.has(`profile:${event.relationships?.profile?.data?.id}`)).toBe(true);
        expect(typeof event.attributes.timestamp).toBe('number');
      }
      count += body.data.length;
      cursor = body.links?.next;
    } while (cursor);
    expect(count).toBe(sandbox.expectedCount('events'));
  });

  test('reads every list, ten per page', async () => {
    const lists = client(new ListsApi(session(sandbox.keys.full)));
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const { body } = await lists.getLists({ pageCursor: cursor });
      expect(body.data.length).toBeLessThanOrEqual(10);
      ids.push(...body.data.map((l) => l.id!));
      cursor = body.links?.next;
    } while (cursor);
    expect(ids).toEqual(await collect(sandbox.expectedIds('lists')));
  });

  test('reads email campaigns with the channel filter from its FilterBuilder (double-quoted string)', async () => {
    const campaigns = client(new CampaignsApi(session(sandbox.keys.full)));
    const filter = new FilterBuilder().equals('messages.channel', 'email').build();
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const { body } = await campaigns.getCampaigns(filter, { pageCursor: cursor, include: ['campaign-messages'] });
      ids.push(...body.data.map((c) => c.id!));
      for (const campaign of body.data)
        expect(campaign.relationships?.campaignMessages?.data?.length).toBeGreaterThan(0);
      cursor = body.links?.next;
    } while (cursor);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(sandbox.expectedCount('campaigns'));
  });

  test('reads single objects: a list with its profile_count, a profile, an event with its profile', async () => {
    const members = await collect(sandbox.expectedIds('list_memberships'));
    const lists = client(new ListsApi(session(sandbox.keys.full)));
    for (const listId of await collect(sandbox.expectedIds('lists'))) {
      const { body } = await lists.getList(listId, { additionalFieldsList: ['profile_count'], include: ['tags'] });
      expect(body.data.id).toBe(listId);
      expect(body.data.attributes.profileCount).toBe(members.filter((m) => m.startsWith(`${listId}:`)).length);
    }
    const [profileId] = await collect(sandbox.expectedIds('profiles'));
    const profiles = client(new ProfilesApi(session(sandbox.keys.full)));
    const profile = await profiles.getProfile(profileId, { additionalFieldsProfile: ['subscriptions'] });
    expect(profile.body.data.id).toBe(profileId);
    expect(profile.body.data.attributes.subscriptions?.email?.marketing).toBeDefined();
    const [eventId] = await collect(sandbox.expectedIds('events'));
    const events = client(new EventsApi(session(sandbox.keys.full)));
    const event = await events.getEvent(eventId, { include: ['profile', 'metric'] });
    const related = event.body.data.relationships?.profile?.data?.id;
    expect((event.body.included ?? []).some((r) => r.type === 'profile' && r.id === related)).toBe(true);
  });

  test('reads the recipient estimation of every campaign', async () => {
    const campaigns = client(new CampaignsApi(session(sandbox.keys.full)));
    for (const campaignId of await collect(sandbox.expectedIds('campaigns'))) {
      const { body } = await campaigns.getCampaignRecipientEstimation(campaignId);
      expect(body.data.id).toBe(campaignId);
      expect(body.data.attributes.estimatedRecipientCount).toBeGreaterThanOrEqual(0);
    }
  });

  test('sees 404 not_found for a list the account lacks', async () => {
    const lists = client(new ListsApi(session(sandbox.keys.full)));
    expect(await failure(lists.getList('NOSUCH'))).toMatchObject({ status: 404, code: 'not_found' });
  });

  test('sees 401 authentication_failed for an unknown key', async () => {
    const profiles = client(new ProfilesApi(session('pk_' + '0'.repeat(34))));
    expect(await failure(profiles.getProfiles())).toMatchObject({ status: 401, code: 'authentication_failed' });
  });

  test('sees 403 permission_denied for a key without profiles:read', async () => {
    const profiles = client(new ProfilesApi(session(sandbox.keys.noProfiles)));
    expect(await failure(profiles.getProfiles())).toMatchObject({ status: 403, code: 'permission_denied' });
    const lists = client(new ListsApi(session(sandbox.keys.noProfiles)));
    expect((await lists.getLists()).body.data.length).toBeGreaterThan(0);
  });

  test('sees 429 throttled with Retry-After when it outruns the rate limit', async () => {
    sandbox.setRateLimits({ enabled: true, scale: 0.04 }); // lists (L tier): 3 per second
    try {
      const lists = client(new ListsApi(session(sandbox.keys.full)));
      for (let i = 0; i < 3; i++) await lists.getLists();
      expect(await failure(lists.getLists())).toMatchObject({ status: 429, code: 'throttled', retryAfter: '1' });
    } finally {
      sandbox.setRateLimits({ enabled: false });
    }
  });

  test('its own retry waits out Retry-After and then succeeds', async () => {
    sandbox.setRateLimits({ enabled: true, scale: 0.04 });
    try {
      const lists = client(new ListsApi(session(sandbox.keys.full, 3)));
      for (let i = 0; i < 3; i++) await lists.getLists();
      sandbox.resetRequestLog();
      const { body } = await lists.getLists();
      expect(body.data.length).toBeGreaterThan(0);
      const statuses = sandbox.requestLog().map((e) => e.status);
      expect(statuses[0]).toBe(429);
      expect(statuses.at(-1)).toBe(200);
    } finally {
      sandbox.setRateLimits({ enabled: false });
    }
  });

  test('queries the seven reports with its ReportingApi, custom time frames and filters included', async () => {
    const reporting = client(new ReportingApi(session(sandbox.keys.full)));
    const metrics = client(new MetricsApi(session(sandbox.keys.full)));
    const conversionMetricId = (await metrics.getMetrics()).body.data.find(
      (m) => m.attributes.name === 'Placed Order',
    )!.id;
    const custom = { start: new Date('2025-06-01T00:00:00Z'), end: new Date('2025-12-31T00:00:00Z') };
    const message = { statistics: ['recipients', 'opens_unique', 'conversion_value'], conversionMetricId };
    const answers = await Promise.all([
      reporting.queryCampaignValues(body('campaign-values-report', { ...message, timeframe: custom })),
      reporting.queryFlowValues(
        body('flow-values-report', {
          ...message,
          timeframe: { key: 'last_365_days' },
          filter: 'equals(send_channel,"email")',
        }),
      ),
      reporting.queryFlowSeries(body('flow-series-report', { ...message, timeframe: custom, interval: 'monthly' })),
      reporting.queryFormValues(body('form-values-report', { statistics: ['viewed_form'], timeframe: custom })),
      reporting.queryFormSeries(
        body('form-series-report', { statistics: ['submits'], timeframe: { key: 'last_7_days' }, interval: 'hourly' }),
      ),
      reporting.querySegmentValues(body('segment-values-report', { statistics: ['total_members'], timeframe: custom })),
      reporting.querySegmentSeries(
        body('segment-series-report', { statistics: ['members_added'], timeframe: custom, interval: 'weekly' }),
      ),
    ]);
    for (const answer of answers) expect(answer.response.status).toBe(200);
    const results = answers.map(
      (a) => (a.body as { data: { attributes: { results: unknown[] } } }).data.attributes.results,
    );
    expect(results.filter((r) => r.length > 0).length).toBeGreaterThanOrEqual(5);
  });

  test("sees the reports' daily quota as 429 throttled with a long Retry-After", async () => {
    sandbox.setRateLimits({ enabled: false, reportsPerDay: 0 });
    try {
      const reporting = client(new ReportingApi(session(sandbox.keys.full)));
      const refused = await failure(
        reporting.querySegmentValues(
          body('segment-values-report', { statistics: ['total_members'], timeframe: { key: 'last_30_days' } }),
        ),
      );
      expect(refused).toMatchObject({ status: 429, code: 'throttled' });
      expect(Number(refused.retryAfter)).toBeGreaterThan(3600);
    } finally {
      sandbox.setRateLimits({ enabled: false });
    }
  });
});

/** A report request in the SDK's shape (its serializer maps camelCase attributes to Klaviyo's names). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function body(type: string, attributes: Record<string, unknown>): any {
  return { data: { type, attributes } };
}

/** An SDK answer's page: rows, and the next link. */
interface SdkPage {
  data: { type: string; id?: string }[];
  links?: { next?: string };
}

const SDK_METHODS = sdkGetMethods();

/** The filters a read of `table` sends, built by the SDK's FilterBuilder: the required one, then each pass's own. */
function sdkFilters(table: CatalogTable, parentId: string | undefined): (string | undefined)[] {
  const required = () => {
    const builder = new FilterBuilder();
    if (table.requiredFilter) builder.equals(table.requiredFilter.field, parentId!);
    return builder;
  };
  const passes: (string | undefined)[] = [required().build() || undefined];
  if (table.incremental) {
    const { field, operator } = table.incremental;
    const since = new Date('2000-01-01T00:00:00Z');
    const builder = required();
    if (operator === 'greater-than') builder.greaterThan(field, since);
    else if (operator === 'greater-or-equal') builder.greaterOrEqual(field, since);
    else throw new Error(`no FilterBuilder method for ${operator}`);
    passes.push(builder.build());
  }
  if (table.hiddenUnlessFiltered)
    passes.push(required().equals(table.hiddenUnlessFiltered.field, table.hiddenUnlessFiltered.value).build());
  return passes;
}

/** The parent id of a fan-out table (or the required filter's value) that the sandbox has rows under. */
async function parentOf(table: CatalogTable): Promise<string | undefined> {
  if (table.requiredFilter?.kind === 'channel') return 'email';
  if (table.requiredFilter?.kind === 'parent')
    return (await collect(sandbox.expectedIds(table.requiredFilter.table)))[0];
  if (!table.parent) return undefined;
  const concrete = await tablePath(sandbox, table.name);
  const pattern = new RegExp('^' + table.path.replace(/\{[^}]+\}/, '([^/?]+)'));
  return decodeURIComponent(pattern.exec(concrete)![1]);
}

/** One page read through the SDK method, its arguments in the method's own order. */
async function sdkPage(
  found: SdkMethod,
  args: { parentId?: string; filter?: string; pageSize?: number; pageCursor?: string },
): Promise<SdkPage> {
  const Api = (sdk as unknown as Record<string, new (s: ApiKeySession) => Record<string, unknown>>)[found.api];
  const api = client(new Api(session(sandbox.keys.full)) as unknown as { basePath: string });
  const positional = found.positional.map((name) => {
    if (name === 'id') return args.parentId;
    if (name === 'filter') return args.filter;
    throw new Error(`${found.api}.${found.method} takes an unknown parameter ${name}`);
  });
  const options: Record<string, unknown> = {};
  if (args.filter !== undefined && !found.positional.includes('filter')) options.filter = args.filter;
  if (args.pageSize !== undefined) options.pageSize = args.pageSize;
  if (args.pageCursor !== undefined) options.pageCursor = args.pageCursor;
  for (const name of Object.keys(options))
    if (!found.options.has(name)) throw new Error(`${found.api}.${found.method} takes no ${name}`);
  const method = (api as unknown as Record<string, (...a: unknown[]) => Promise<{ body: SdkPage }>>)[found.method];
  return (await method.call(api, ...positional, options)).body;
}

describe('every catalog list endpoint through the official SDK', () => {
  test('the SDK has a GET method for every catalog path (none uncovered)', () => {
    expect(CATALOG.filter((t) => !SDK_METHODS.has(t.path)).map((t) => t.path)).toEqual([]);
  });

  test.each(CATALOG.filter((t) => SDK_METHODS.has(t.path)).map((t) => [t.name, t] as const))(
    '%s: read with the catalog’s filters, page size and the SDK’s cursor',
    async (_, table) => {
      const found = SDK_METHODS.get(table.path)!;
      const parentId = await parentOf(table);
      const pageSize = table.pageSize?.max;
      const passes = sdkFilters(table, parentId);
      for (const [i, filter] of passes.entries()) {
        const first = await sdkPage(found, { parentId, filter, pageSize });
        for (const row of first.data) expect(row.type).toBe(table.resourceType);
        // The archived-rows pass may find none; every other finds the rows the sandbox made.
        if (!(table.hiddenUnlessFiltered && i === passes.length - 1)) expect(first.data.length).toBeGreaterThan(0);
        const ids = new Set(first.data.map((r) => r.id));
        let cursor = first.links?.next;
        let seen = ids;
        if (!cursor && table.paged && table.pageSize && first.data.length >= 2) {
          // All on one page at the client's size: read it again a row a page to follow the SDK's cursor once.
          const single = await sdkPage(found, { parentId, filter, pageSize: table.pageSize.min });
          expect(single.data).toHaveLength(table.pageSize.min);
          seen = new Set(single.data.map((r) => r.id));
          cursor = single.links?.next;
          expect(cursor).toBeDefined();
        }
        if (!cursor) continue;
        const second = await sdkPage(found, { parentId, filter, pageSize, pageCursor: cursor });
        expect(second.data.length).toBeGreaterThan(0);
        for (const row of second.data) {
          expect(row.type).toBe(table.resourceType);
          expect(seen.has(row.id)).toBe(false);
        }
        if (seen !== ids) for (const row of second.data.slice(0, 1)) expect(ids.has(row.id)).toBe(true);
      }
    },
  );
});
