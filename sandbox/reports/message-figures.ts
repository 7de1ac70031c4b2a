import type { Dataset } from '../data/dataset';
import type { SentMessage } from '../data/message-activity';
import type { ResourceRef } from '../data/row';
import { activityIndex, ROLE_CODES } from './activity-index';
import type { ComputedReport, ReportResult } from './compute-report';
import type { ReportEndpoint } from './endpoints';
import { cents, groupingsOf, passes, ratio, type Grouping, type UnitAttributes } from './groupings';
import type { ReportQuery } from './report-request';
import { bucketOf } from './timeframe';

/**
 * Campaign and flow figures, from the events credited to each message (see data/message-activity.ts):
 * recipients are "Received Email" (or "Received SMS") events, opens and clicks "Opened Email" and "Clicked Email"
 * events, conversions the conversion metric's events credited to the message, their `$value` the conversion value;
 * the `_unique` figures count distinct profiles. Nothing bounces, fails, complains or unsubscribes in the sandbox.
 *
 * A campaign report holds the messages of campaigns sent within the time frame, with every event they have had so
 * far (all of which fall within the attribution window after the send). A flow report holds the flow messages with
 * events within the time frame, counted by the time of each event; a series puts each in its bucket.
 */

interface Tally {
  recipients: number;
  opens: number;
  clicks: number;
  conversions: number;
  value: number;
  openers: Set<number>;
  clickers: Set<number>;
  converters: Set<number>;
}

function tally(): Tally {
  return {
    recipients: 0,
    opens: 0,
    clicks: 0,
    conversions: 0,
    value: 0,
    openers: new Set(),
    clickers: new Set(),
    converters: new Set(),
  };
}

/** Every statistic of one tally; rates are fractions in [0, 1], money in cents. */
export function messageStatistics(t: Tally): Record<string, number> {
  const delivered = t.recipients;
  const value = cents(t.value);
  return {
    average_order_value: t.conversions > 0 ? cents(t.value / t.conversions) : 0,
    bounce_rate: 0,
    bounced: 0,
    bounced_or_failed: 0,
    bounced_or_failed_rate: 0,
    click_rate: ratio(t.clickers.size, delivered),
    click_to_open_rate: ratio(t.clickers.size, t.openers.size),
    clicks: t.clicks,
    clicks_unique: t.clickers.size,
    conversion_rate: ratio(t.converters.size, delivered),
    conversion_uniques: t.converters.size,
    conversion_value: value,
    conversions: t.conversions,
    delivered,
    delivery_rate: delivered > 0 ? 1 : 0,
    failed: 0,
    failed_rate: 0,
    message_segment_count_sum: 0,
    open_rate: ratio(t.openers.size, delivered),
    opens: t.opens,
    opens_unique: t.openers.size,
    recipients: t.recipients,
    revenue_per_recipient: delivered > 0 ? cents(t.value / delivered) : 0,
    spam_complaint_rate: 0,
    spam_complaints: 0,
    text_message_credit_usage_amount: 0,
    text_message_roi: 0,
    text_message_spend: 0,
    unsubscribe_rate: 0,
    unsubscribe_uniques: 0,
    unsubscribes: 0,
  };
}

interface Group {
  grouping: Grouping;
  tallies: Tally[];
  order: number;
}

export function messageReport(ds: Dataset, endpoint: ReportEndpoint, query: ReportQuery): ComputedReport {
  const source = endpoint.subject === 'campaign' ? 'campaign' : 'flow';
  const messages = ds.activity.directory().messages;
  const units = ds.cached(`report-units:${source}`, () =>
    messages.map((m) => (m.source === source ? unitOf(ds, m) : null)),
  );
  const hiddenParents = ds.state.deleted(source);
  const series = endpoint.shape === 'series';
  const bucketCount = series ? query.buckets.length : 1;
  const { startSec, endSec } = query.range;
  const nowSec = ds.state.clockSec;

  const groups = new Map<string, Group>();
  const groupsOfMessage = new Map<number, Group[]>();
  const groupsOf = (message: number): Group[] => {
    let list = groupsOfMessage.get(message);
    if (!list) {
      list = groupingsOf(units[message]!, query.groupBy).map((grouping) => {
        let group = groups.get(grouping.key);
        if (!group) {
          group = { grouping, tallies: Array.from({ length: bucketCount }, tally), order: groups.size };
          groups.set(grouping.key, group);
        }
        return group;
      });
      groupsOfMessage.set(message, list);
    }
    return list;
  };
  const included = messages.map((m, i) => {
    const unit = units[i];
    if (!unit || hiddenParents?.has(m.parentId) || !passes(unit, query.conditions)) return false;
    if (source === 'flow') return true;
    return m.sendSec !== null && m.sendSec >= startSec && m.sendSec < endSec;
  });
  // Campaigns sent in the time frame are reported even before anything happened to them.
  if (source === 'campaign') included.forEach((yes, i) => yes && groupsOf(i));

  const index = activityIndex(ds);
  const conversionMetric =
    query.conversionMetricId === null ? -1 : (ds.metrics.indexOfId(query.conversionMetricId) ?? -1);
  for (let i = 0; i < index.count; i++) {
    const message = index.target[i];
    const role = index.role[i];
    if (role > ROLE_CODES.conversion || !included[message]) continue;
    if (role === ROLE_CODES.conversion && index.metric[i] !== conversionMetric) continue;
    const at = index.seconds[i];
    if (at > nowSec) continue;
    let bucket = 0;
    if (source === 'flow') {
      if (at < startSec || at >= endSec) continue;
      if (series) bucket = bucketOf(query.buckets, at);
      if (bucket < 0) continue;
    }
    const profile = index.profile[i];
    for (const group of groupsOf(message)) {
      const t = group.tallies[bucket];
      if (role === ROLE_CODES.received) t.recipients += 1;
      else if (role === ROLE_CODES.opened) {
        t.opens += 1;
        t.openers.add(profile);
      } else if (role === ROLE_CODES.clicked) {
        t.clicks += 1;
        t.clickers.add(profile);
      } else {
        t.conversions += 1;
        t.value += index.value(i);
        t.converters.add(profile);
      }
    }
  }

  const ordered = [...groups.values()].sort((a, b) => a.order - b.order);
  const results: ReportResult[] = ordered.map((group) => {
    const perBucket = group.tallies.map(messageStatistics);
    const statistics = Object.fromEntries(
      query.statistics.map((name) => [name, series ? perBucket.map((s) => s[name]) : perBucket[0][name]]),
    );
    return { groupings: group.grouping.groupings, statistics };
  });
  const distinct = (name: string) => [
    ...new Set(ordered.map((g) => g.grouping.groupings[name]).filter((v): v is string => typeof v === 'string')),
  ];
  const related =
    source === 'campaign'
      ? [{ name: 'campaigns', type: 'campaign', ids: distinct('campaign_id') }]
      : [
          { name: 'flows', type: 'flow', ids: distinct('flow_id') },
          { name: 'flow-messages', type: 'flow-message', ids: distinct('flow_message_id') },
        ];
  return { results, related };
}

function tagsOf(refs: ResourceRef[]): { ids: string[]; names: string[] } {
  return {
    ids: refs.map((r) => r.id),
    names: refs.map((r) => String(r.load?.().attributes?.name ?? '')),
  };
}

/** What a message is grouped and filtered by. */
function unitOf(ds: Dataset, m: SentMessage): UnitAttributes {
  const sms = m.channel === 'sms' ? 'sms' : null;
  if (m.source === 'campaign') {
    const tags = tagsOf(ds.tags.tagsOf('campaign', m.parentIndex));
    const name = String(ds.campaigns.row(m.parentIndex).attributes?.name ?? '');
    return {
      campaign_id: m.parentId,
      campaign_message_id: m.id,
      campaign_message_name: name,
      group: null,
      group_name: null,
      send_channel: m.channel,
      tag_id: tags.ids,
      tag_name: tags.names,
      text_message_format: sms,
      variation: m.id,
      variation_name: m.channel === 'email' ? (m.index === 0 ? 'Variation A' : 'Variation B') : null,
    };
  }
  const tags = tagsOf(ds.tags.tagsOf('flow', m.parentIndex));
  const message = ds.flows.messageRow(m.index);
  const messageName = String(message.filterValues?.name ?? '');
  return {
    flow_id: m.parentId,
    flow_message_id: m.id,
    flow_message_name: messageName,
    flow_name: String(ds.flows.row(m.parentIndex).attributes?.name ?? ''),
    send_channel: m.channel,
    tag_id: tags.ids,
    tag_name: tags.names,
    text_message_format: sms,
    variation: m.id,
    variation_name: messageName,
  };
}
