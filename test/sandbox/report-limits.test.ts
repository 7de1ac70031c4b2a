import { startSandbox, type Sandbox } from '../../sandbox/server';
import { metricId, postReport, reportBody } from './report-helpers';

/**
 * The Reporting API's limits and checks: a daily quota (225 by default) that is always counted, shared by every key
 * of the account, answered with Klaviyo's 429 and a Retry-After until the oldest counted request leaves the rolling
 * day (whose length tests can shorten, and which `advance` moves); 1/s and 2/min when rate limits are on; scopes,
 * keys and revisions as on every endpoint; and the request log keeping each body's time frame and filter.
 */

const FLOW_VALUES = '/api/flow-values-reports';

describe('Reporting API limits', () => {
  let sandbox: Sandbox;
  let body: unknown;

  async function admin(method: string, path: string, payload?: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${sandbox.baseUrl}/__sandbox/${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 2, sizes: { profiles: 100, events: 1000 }, rateLimits: { enabled: false } });
    body = reportBody('flow-values-report', {
      statistics: ['recipients'],
      timeframe: { key: 'last_30_days' },
      conversion_metric_id: await metricId(sandbox, 'Placed Order'),
      filter: 'contains-any(send_channel,["email","sms"])',
    });
  });
  afterAll(() => sandbox.close());

  test('the daily quota answers 429 with Retry-After until the oldest request leaves the day, keys sharing it', async () => {
    const settings = await admin('PUT', 'rate-limits', { enabled: false, reportsPerDay: 3, reportDaySeconds: 4 });
    expect(settings).toEqual({ enabled: false, scale: 1, reportsPerDay: 3, reportDaySeconds: 4 });
    const otherKey = sandbox.createKey(['flows:read']);
    const statuses = [
      (await postReport(sandbox, FLOW_VALUES, body)).status,
      (await postReport(sandbox, FLOW_VALUES, body, { key: otherKey })).status,
      (await postReport(sandbox, FLOW_VALUES, body)).status,
    ];
    const refused = await postReport(sandbox, FLOW_VALUES, body, { key: otherKey });
    expect(statuses).toEqual([200, 200, 200]);
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]).toMatchObject({ status: 429, code: 'throttled' });
    expect(refused.body.errors?.[0].detail).toMatch(/Daily limit of 3 reporting requests/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 4).toBe(true);
    expect((await admin('GET', 'info')).reportQuota).toMatchObject({ limit: 3, daySeconds: 4, used: 3 });

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 50));
    expect((await postReport(sandbox, FLOW_VALUES, body)).status).toBe(200);
  });

  test("a day on the sandbox clock turns the quota's day, and a refused request is not counted", async () => {
    await admin('PUT', 'rate-limits', { enabled: false, reportsPerDay: 2 });
    await admin('PUT', 'rate-limits', { enabled: false, reportsPerDay: 0 });
    const none = await postReport(sandbox, FLOW_VALUES, body);
    expect(none.status).toBe(429);
    await admin('PUT', 'rate-limits', { enabled: false, reportsPerDay: 2 });
    // Requests of the earlier test left the 4 s day; under a day of 86400 s they count again until it turns.
    const used = (await admin('GET', 'info')).reportQuota as { used: number };
    for (let i = used.used; i < 2; i++) expect((await postReport(sandbox, FLOW_VALUES, body)).status).toBe(200);
    const refused = await postReport(sandbox, FLOW_VALUES, body);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(86_000);
    expect((await admin('GET', 'info')).reportQuota).toMatchObject({ used: 2 });

    sandbox.advance({ hours: 24 });
    expect((await postReport(sandbox, FLOW_VALUES, body)).status).toBe(200);
    await admin('PUT', 'rate-limits', { enabled: false });
    expect((await admin('GET', 'info')).rateLimits).toMatchObject({ reportsPerDay: 225, reportDaySeconds: 86_400 });
  });

  test('with rate limits on: 1 per second, then 2 per minute, with RateLimit headers', async () => {
    await admin('PUT', 'rate-limits', { enabled: true });
    const first = await postReport(sandbox, FLOW_VALUES, body);
    const burst = await postReport(sandbox, FLOW_VALUES, body);
    expect([first.status, burst.status]).toEqual([200, 429]);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    expect(burst.headers.get('retry-after')).toBe('1');
    await new Promise((resolve) => setTimeout(resolve, 1050));
    expect((await postReport(sandbox, FLOW_VALUES, body)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1050));
    const steady = await postReport(sandbox, FLOW_VALUES, body);
    expect(steady.status).toBe(429);
    expect(Number(steady.headers.get('retry-after'))).toBeGreaterThan(1);
    await admin('PUT', 'rate-limits', { enabled: false });
  });

  test('scopes, keys and revisions: 403 naming the missing scope, 401, 400', async () => {
    const flowsOnly = sandbox.createKey(['flows:read']);
    const campaign = reportBody('campaign-values-report', {
      statistics: ['opens'],
      timeframe: { key: 'last_7_days' },
      conversion_metric_id: await metricId(sandbox, 'Placed Order'),
    });
    const forms = reportBody('form-values-report', { statistics: ['submits'], timeframe: { key: 'last_7_days' } });
    const segments = reportBody('segment-values-report', {
      statistics: ['total_members'],
      timeframe: { key: 'last_7_days' },
    });
    const answers = [
      await postReport(sandbox, '/api/campaign-values-reports', campaign, { key: flowsOnly }),
      await postReport(sandbox, '/api/form-values-reports', forms, { key: flowsOnly }),
      await postReport(sandbox, '/api/segment-values-reports', segments, { key: flowsOnly }),
      await postReport(sandbox, FLOW_VALUES, body, { key: flowsOnly }),
      await postReport(sandbox, FLOW_VALUES, body, { key: null }),
      await postReport(sandbox, FLOW_VALUES, body, { revision: null }),
    ];
    expect(answers.map((a) => a.status)).toEqual([403, 403, 403, 200, 401, 400]);
    expect(answers.slice(0, 3).map((a) => a.body.errors?.[0].detail)).toEqual([
      'This API key is missing required scopes: campaigns:read.',
      'This API key is missing required scopes: forms:read.',
      'This API key is missing required scopes: segments:read.',
    ]);
  });

  test('fault rules name a report by its type: 503 once, then the report', async () => {
    sandbox.setFaults({ rules: [{ table: 'flow-values-report', times: 1, status: 503 }] });
    const failed = await postReport(sandbox, FLOW_VALUES, body);
    const served = await postReport(sandbox, FLOW_VALUES, body);
    sandbox.setFaults({});
    expect([failed.status, failed.body.errors?.[0].code, served.status]).toEqual([503, 'service_unavailable', 200]);
    expect(
      sandbox
        .requestLog()
        .slice(-2)
        .map((e) => e.fault),
    ).toEqual(['status', null]);
  });

  test("the request log keeps each report's endpoint, status, time frame and filter, never the key", async () => {
    sandbox.resetRequestLog();
    await postReport(sandbox, FLOW_VALUES, body);
    await postReport(sandbox, FLOW_VALUES, reportBody('flow-values-report', { statistics: ['nope'] }));
    const entries = sandbox.requestLog();
    expect(entries.map((e) => [e.method, e.path, e.table, e.status, e.report?.timeframe, e.report?.filter])).toEqual([
      [
        'POST',
        FLOW_VALUES,
        'flow-values-report',
        200,
        { key: 'last_30_days' },
        'contains-any(send_channel,["email","sms"])',
      ],
      ['POST', FLOW_VALUES, 'flow-values-report', 400, null, null],
    ]);
    expect(sandbox.requestCounts()['flow-values-report']).toBe(2);
    expect(JSON.stringify(entries)).not.toContain(sandbox.keys.full);
  });
});
