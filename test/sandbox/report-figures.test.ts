import { startSandbox, type Sandbox } from '../../sandbox/server';
import { readAll, type JsonApiResource } from './http-helpers';
import { metricId, postReport, reportBody } from './report-helpers';

/**
 * Acceptance: every report figure equals what the raw rows the sandbox serves imply, computed here from
 * /api/events (the `$message`, `$campaign`, `$flow`, `$attributed_*` and `$form*` properties), /api/metrics,
 * /api/campaigns and /api/segments/{id}/profiles alone, without the sandbox's report code. The account's timezone
 * is America/New_York: the time frames below are written as its wall clock (EST, UTC-5, from November 2).
 */

const HOUR = 3600;
const DAY = 86_400;
/** 2025-11-10 00:00 to 2026-01-01 00:00 in New York. */
const CUSTOM = { start: '2025-11-10T00:00:00-05:00', end: '2026-01-01T00:00:00-05:00' };
const CUSTOM_SEC = [Date.parse('2025-11-10T05:00:00Z') / 1000, Date.parse('2026-01-01T05:00:00Z') / 1000];

interface RawEvent {
  metric: string;
  profile: string;
  seconds: number;
  props: Record<string, unknown>;
}

/** A message's events, by what each counts as in its report: the oracle keeps the rows and counts them at the end. */
interface Figures {
  received: RawEvent[];
  opened: RawEvent[];
  clicked: RawEvent[];
  converted: RawEvent[];
}

const empty = (): Figures => ({ received: [], opened: [], clicked: [], converted: [] });

/** The figures a message's events imply, in the report's statistic names. */
function statistics(f: Figures): Record<string, number> {
  const rate = (a: number, b: number) => (b > 0 ? a / b : 0);
  const people = (list: RawEvent[]) => new Set(list.map((e) => e.profile)).size;
  const recipients = f.received.length;
  const value = f.converted.reduce((sum, e) => sum + (e.props.$value as number), 0);
  const [openers, clickers, converters] = [people(f.opened), people(f.clicked), people(f.converted)];
  return {
    recipients,
    delivered: recipients,
    opens: f.opened.length,
    opens_unique: openers,
    open_rate: rate(openers, recipients),
    clicks: f.clicked.length,
    clicks_unique: clickers,
    click_rate: rate(clickers, recipients),
    click_to_open_rate: rate(clickers, openers),
    conversions: f.converted.length,
    conversion_uniques: converters,
    conversion_value: Math.round(value * 100) / 100,
    conversion_rate: rate(converters, recipients),
    average_order_value: f.converted.length > 0 ? Math.round((value / f.converted.length) * 100) / 100 : 0,
    revenue_per_recipient: recipients > 0 ? Math.round((value / recipients) * 100) / 100 : 0,
  };
}
const STATISTICS = Object.keys(statistics(empty()));

/** Files one event under the message it names, if it counts as one of the message's events. */
function tallyMessageEvent(
  into: Map<string, Figures>,
  e: RawEvent,
  key: 'campaign' | 'flow',
  conversion: string,
): void {
  const sent = e.props[`$${key}`] !== undefined ? (e.props.$message as string) : undefined;
  const credited = e.props[`$attributed_${key}`] !== undefined ? (e.props.$attributed_message as string) : undefined;
  const message = sent ?? credited;
  if (message === undefined) return;
  if (credited !== undefined && e.metric !== conversion) return;
  if (sent !== undefined && !['Received Email', 'Received SMS', 'Opened Email', 'Clicked Email'].includes(e.metric))
    return;
  let f = into.get(message);
  if (!f) into.set(message, (f = empty()));
  if (credited !== undefined) f.converted.push(e);
  else if (e.metric.startsWith('Received')) f.received.push(e);
  else if (e.metric === 'Opened Email') f.opened.push(e);
  else f.clicked.push(e);
}

describe('Reporting API figures equal what the raw rows imply', () => {
  let sandbox: Sandbox;
  let events: RawEvent[];
  let placedOrder: string;

  async function readEvents(): Promise<RawEvent[]> {
    const metrics = await readAll(sandbox, '/api/metrics');
    const names = new Map(metrics.rows.map((m) => [m.id, String(m.attributes?.name)]));
    const { rows } = await readAll(sandbox, '/api/events?page[size]=1000');
    return rows.map((row) => ({
      metric: names.get((row.relationships?.metric?.data as { id: string }).id)!,
      profile: (row.relationships?.profile?.data as { id: string }).id,
      seconds: row.attributes?.timestamp as number,
      props: row.attributes?.event_properties as Record<string, unknown>,
    }));
  }

  async function report(path: string, type: string, attributes: Record<string, unknown>) {
    const answer = await postReport(sandbox, path, reportBody(type, attributes));
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.text.slice(0, 400)}`);
    return answer.body.data.attributes;
  }

  beforeAll(async () => {
    sandbox = await startSandbox({
      seed: 2,
      sizes: { profiles: 300, events: 6000, campaigns: 200 },
      rateLimits: { enabled: false, reportsPerDay: 100_000 },
    });
    placedOrder = await metricId(sandbox, 'Placed Order');
    events = await readEvents();
  });
  afterAll(() => sandbox.close());

  test('campaign values: the messages of campaigns sent in the time frame, each with its events', async () => {
    const campaigns: JsonApiResource[] = [];
    for (const channel of ['email', 'sms', 'mobile_push'])
      for (const archived of ['', `,equals(archived,true)`])
        campaigns.push(
          ...(await readAll(sandbox, `/api/campaigns?filter=and(equals(messages.channel,'${channel}')${archived})`))
            .rows,
        );
    const expected = new Map<string, Record<string, number>>();
    const byMessage = new Map<string, Figures>();
    for (const e of events) tallyMessageEvent(byMessage, e, 'campaign', 'Placed Order');
    for (const campaign of campaigns) {
      const sendTime = campaign.attributes?.send_time as string | null;
      const sent = sendTime === null ? NaN : Date.parse(sendTime) / 1000;
      if (!(sent >= CUSTOM_SEC[0] && sent < CUSTOM_SEC[1])) continue;
      for (const message of campaign.relationships?.['campaign-messages']?.data as { id: string }[])
        expected.set(`${campaign.id}/${message.id}`, statistics(byMessage.get(message.id) ?? empty()));
    }
    const answer = await report('/api/campaign-values-reports', 'campaign-values-report', {
      statistics: STATISTICS,
      timeframe: CUSTOM,
      conversion_metric_id: placedOrder,
    });
    const actual = new Map(
      answer.results.map((r) => [`${r.groupings.campaign_id}/${r.groupings.campaign_message_id}`, r.statistics]),
    );
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
    const totals = [...expected.values()];
    expect(totals.reduce((n, s) => n + s.recipients, 0)).toBeGreaterThan(0);
    expect(totals.reduce((n, s) => n + s.conversions, 0)).toBeGreaterThan(0);

    // A filter on up to 100 campaigns answers exactly those campaigns, with the same figures.
    const some = [...new Set(answer.results.map((r) => r.groupings.campaign_id as string))].slice(0, 3);
    const filtered = await report('/api/campaign-values-reports', 'campaign-values-report', {
      statistics: STATISTICS,
      timeframe: CUSTOM,
      conversion_metric_id: placedOrder,
      filter: `contains-any(campaign_id,[${some.map((id) => `"${id}"`).join(',')}])`,
    });
    expect(filtered.results).toEqual(answer.results.filter((r) => some.includes(r.groupings.campaign_id as string)));
  });

  test('flow values and a daily flow series: the events of each flow message within the time frame', async () => {
    const inRange = (from: number, to: number) => events.filter((e) => e.seconds >= from && e.seconds < to);
    const expected = new Map<string, Figures>();
    for (const e of inRange(CUSTOM_SEC[0], CUSTOM_SEC[1])) tallyMessageEvent(expected, e, 'flow', 'Placed Order');
    const values = await report('/api/flow-values-reports', 'flow-values-report', {
      statistics: STATISTICS,
      timeframe: CUSTOM,
      conversion_metric_id: placedOrder,
    });
    const actual = Object.fromEntries(values.results.map((r) => [r.groupings.flow_message_id, r.statistics]));
    expect(actual).toEqual(Object.fromEntries([...expected].map(([id, f]) => [id, statistics(f)])));
    expect(values.results.length).toBeGreaterThan(0);

    // last_30_days at the clock (2025-12-31 19:00 in New York): Dec 1 to Dec 31, one bucket per local day.
    const series = await report('/api/flow-series-reports', 'flow-series-report', {
      statistics: ['recipients', 'opens_unique', 'conversion_value'],
      timeframe: { key: 'last_30_days' },
      interval: 'daily',
      conversion_metric_id: placedOrder,
    });
    const dayStarts = Array.from({ length: 30 }, (_, d) => Date.parse('2025-12-01T05:00:00Z') / 1000 + d * DAY);
    expect(series.date_times).toEqual(
      dayStarts.map((s) => `${new Date((s - 5 * HOUR) * 1000).toISOString().slice(0, 19)}-05:00`),
    );
    const perDay = dayStarts.map((s) => {
      const day = new Map<string, Figures>();
      for (const e of inRange(s, s + DAY)) tallyMessageEvent(day, e, 'flow', 'Placed Order');
      return day;
    });
    const messages = new Set(perDay.flatMap((day) => [...day.keys()]));
    const expectedSeries = Object.fromEntries(
      [...messages].map((id) => {
        const days = perDay.map((day) => statistics(day.get(id) ?? empty()));
        return [
          id,
          {
            recipients: days.map((d) => d.recipients),
            opens_unique: days.map((d) => d.opens_unique),
            conversion_value: days.map((d) => d.conversion_value),
          },
        ];
      }),
    );
    expect(Object.fromEntries(series.results.map((r) => [r.groupings.flow_message_id, r.statistics]))).toEqual(
      expectedSeries,
    );
  });

  test('form values by version: views and submits carrying the form', async () => {
    const inRange = events.filter((e) => e.seconds >= CUSTOM_SEC[0] && e.seconds < CUSTOM_SEC[1] && e.props.$form);
    const expected = new Map<
      string,
      { views: number; submits: number; viewers: Set<string>; submitters: Set<string> }
    >();
    for (const e of inRange) {
      const key = `${e.props.$form as string}/${e.props.$form_version as string}`;
      let f = expected.get(key);
      if (!f) expected.set(key, (f = { views: 0, submits: 0, viewers: new Set(), submitters: new Set() }));
      if (e.metric === 'Active on Site') {
        f.views += 1;
        f.viewers.add(e.profile);
      } else if (e.metric === 'Subscribed to List') {
        f.submits += 1;
        f.submitters.add(e.profile);
      }
    }
    const values = await report('/api/form-values-reports', 'form-values-report', {
      statistics: ['viewed_form', 'viewed_form_uniques', 'submits', 'submitted_form_step_uniques', 'submit_rate'],
      timeframe: CUSTOM,
      group_by: ['form_id', 'form_version_id'],
    });
    expect(
      Object.fromEntries(
        values.results.map((r) => [`${r.groupings.form_id}/${r.groupings.form_version_id}`, r.statistics]),
      ),
    ).toEqual(
      Object.fromEntries(
        [...expected].map(([key, f]) => [
          key,
          {
            viewed_form: f.views,
            viewed_form_uniques: f.viewers.size,
            submits: f.submits,
            submitted_form_step_uniques: f.submitters.size,
            submit_rate: f.views > 0 ? f.submits / f.views : 0,
          },
        ]),
      ),
    );
    expect(values.results.length).toBeGreaterThan(0);
  });

  test('segment values and a monthly segment series: members by joined_group_at', async () => {
    const segments = (await readAll(sandbox, '/api/segments')).rows;
    const joined = new Map<string, number[]>();
    for (const segment of segments) {
      const members = await readAll(sandbox, `/api/segments/${segment.id}/profiles?page[size]=100`);
      joined.set(
        segment.id,
        members.rows.map((m) => Date.parse(m.attributes?.joined_group_at as string) / 1000),
      );
    }
    const now = Date.parse(sandbox.clock()) / 1000;
    const count = (times: number[], from: number, to: number) =>
      times.filter((t) => t >= from && t < Math.min(to, now + 1)).length;
    const values = await report('/api/segment-values-reports', 'segment-values-report', {
      statistics: ['total_members', 'members_added', 'members_removed', 'net_members_changed'],
      timeframe: CUSTOM,
    });
    expect(Object.fromEntries(values.results.map((r) => [r.groupings.segment_id, r.statistics]))).toEqual(
      Object.fromEntries(
        [...joined].map(([id, times]) => {
          const added = count(times, CUSTOM_SEC[0], CUSTOM_SEC[1]);
          const total = count(times, -Infinity, CUSTOM_SEC[1]);
          return [id, { total_members: total, members_added: added, members_removed: 0, net_members_changed: added }];
        }),
      ),
    );
    // October (EDT), November and December (EST) of 2025, in New York.
    const months = ['2025-10-01T04:00:00Z', '2025-11-01T04:00:00Z', '2025-12-01T05:00:00Z', '2026-01-01T05:00:00Z'].map(
      (t) => Date.parse(t) / 1000,
    );
    const series = await report('/api/segment-series-reports', 'segment-series-report', {
      statistics: ['total_members', 'members_added'],
      timeframe: { start: '2025-10-01T00:00:00Z', end: '2026-01-01T00:00:00Z' },
      interval: 'monthly',
    });
    expect(series.date_times).toEqual([
      '2025-10-01T00:00:00-04:00',
      '2025-11-01T00:00:00-04:00',
      '2025-12-01T00:00:00-05:00',
    ]);
    expect(Object.fromEntries(series.results.map((r) => [r.groupings.segment_id, r.statistics]))).toEqual(
      Object.fromEntries(
        [...joined].map(([id, times]) => [
          id,
          {
            total_members: months.slice(1).map((end) => count(times, -Infinity, end)),
            members_added: months.slice(0, 3).map((start, m) => count(times, start, months[m + 1])),
          },
        ]),
      ),
    );
  });

  test('after a day on the sandbox clock with new events, the figures follow the new events', async () => {
    sandbox.advance({ hours: 24, addEvents: 600 });
    events = await readEvents();
    const from = Date.parse(sandbox.clock()) / 1000 - 2 * DAY;
    const expected = new Map<string, Figures>();
    for (const e of events.filter((e) => e.seconds >= from)) tallyMessageEvent(expected, e, 'flow', 'Placed Order');
    const start = new Date((from - 5 * HOUR) * 1000).toISOString().slice(0, 19) + '-05:00';
    const values = await report('/api/flow-values-reports', 'flow-values-report', {
      statistics: STATISTICS,
      timeframe: { start, end: '2026-01-03T00:00:00-05:00' },
      conversion_metric_id: placedOrder,
    });
    expect(Object.fromEntries(values.results.map((r) => [r.groupings.flow_message_id, r.statistics]))).toEqual(
      Object.fromEntries([...expected].map(([id, f]) => [id, statistics(f)])),
    );
    expect([...expected.values()].reduce((n, f) => n + f.received.length + f.converted.length, 0)).toBeGreaterThan(0);
  });
});
