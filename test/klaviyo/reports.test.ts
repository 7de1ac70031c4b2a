import { getTable } from '../../klaviyo/catalog';
import type { ReportTable } from '../../klaviyo/report-catalog';
import { addDays, planReportRequests, reportBody, reportRows, wallDay } from '../../klaviyo/reports';
import { KlaviyoMalformedResponseError } from '../../klaviyo/errors';

/** The report requests and answers, without I/O: how a read is split, what is sent, how an answer becomes rows. */
const campaigns = getTable('campaign_message_values') as ReportTable;
const flowSeries = getTable('flow_daily_series') as ReportTable;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `id${i}`);

test('values: one request per 100 subjects over the whole time frame', () => {
  const requests = planReportRequests(campaigns, ids(250), '2025-01-01', '2026-01-01');
  expect(requests.map((r) => r.ids.length)).toEqual([100, 100, 50]);
  expect(new Set(requests.map((r) => `${r.startDay}/${r.endDay}`))).toEqual(new Set(['2025-01-01/2026-01-01']));
});

test('series: windows of at most 60 days that meet end to start, so no day is asked twice or left out', () => {
  const requests = planReportRequests(flowSeries, ids(150), '2025-01-02', '2026-01-01');
  const windows = [...new Set(requests.map((r) => `${r.startDay}/${r.endDay}`))].map((w) => w.split('/'));
  expect(requests).toHaveLength(2 * windows.length);
  expect(windows[0][0]).toBe('2025-01-02');
  expect(windows.at(-1)?.[1]).toBe('2026-01-01');
  for (let i = 1; i < windows.length; i++) expect(windows[i][0]).toBe(windows[i - 1][1]);
  for (const [start, end] of windows) expect(Date.parse(end) - Date.parse(start)).toBeLessThanOrEqual(60 * 86_400_000);
});

test('a request document: statistics, whole days, the filter, group_by, the interval and the conversion metric', () => {
  const [request] = planReportRequests(flowSeries, ['a', 'b'], '2025-12-25', '2026-01-01');
  expect(reportBody(flowSeries, request, { statistics: ['opens'], conversionMetricId: 'M1' })).toEqual({
    data: {
      type: 'flow-series-report',
      attributes: {
        statistics: ['opens'],
        timeframe: { start: '2025-12-25T00:00:00+00:00', end: '2026-01-01T00:00:00+00:00' },
        filter: 'contains-any(flow_id,["a","b"])',
        group_by: ['flow_id', 'flow_message_id', 'send_channel'],
        interval: 'daily',
        conversion_metric_id: 'M1',
      },
    },
  });
});

test('a series answer: one row per grouping and day with something to show', () => {
  const answer = {
    data: {
      type: 'flow-series-report',
      attributes: {
        date_times: ['2025-12-30T00:00:00-05:00', '2025-12-31T00:00:00-05:00'],
        results: [
          {
            groupings: { flow_id: 'F', flow_message_id: 'M', send_channel: 'email' },
            statistics: { opens: [0, 3], recipients: [0, 5] },
          },
        ],
      },
    },
  };
  expect(reportRows(flowSeries, answer, 'u').map((r) => r.attributes)).toEqual([
    {
      flow_id: 'F',
      flow_message_id: 'M',
      send_channel: 'email',
      date: '2025-12-31T00:00:00-05:00',
      opens: 3,
      recipients: 5,
    },
  ]);
});

test('an answer that does not fit is a malformed answer, in words', () => {
  const missing = { data: { attributes: { results: [{ groupings: { flow_id: 'F' }, statistics: { opens: [1] } }] } } };
  expect(() => reportRows(flowSeries, missing, 'u')).toThrow(KlaviyoMalformedResponseError);
  expect(() => reportRows(flowSeries, missing, 'u')).toThrow(/date_times|grouping/);
  expect(() => reportRows(campaigns, { data: {} }, 'u')).toThrow(/attributes/);
});

test("days are the account's: New York's evening is still the day before UTC's", () => {
  expect(wallDay(new Date('2026-01-01T03:00:00Z'), 'America/New_York')).toBe('2025-12-31');
  expect(wallDay(new Date('2026-01-01T03:00:00Z'), 'Not/AZone')).toBe('2026-01-01');
  expect(addDays('2025-12-31', 1)).toBe('2026-01-01');
  expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
});
