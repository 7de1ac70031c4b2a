/**
 * Klaviyo's Reporting API (revision 2026-07-15) as data: the seven POST endpoints, what each body may hold and what
 * each answers. Every list here is Klaviyo's own, as its OpenAPI description states it for that endpoint.
 */

export type ReportSubject = 'campaign' | 'flow' | 'form' | 'segment';
export type ReportShape = 'values' | 'series';

export interface FilterAttribute {
  /** Operators the attribute takes (`equals`, `contains-any`, `contains-all`, `any`). */
  operators: readonly string[];
  /** List attributes (tags) are matched against the grouping's set of values. */
  list: boolean;
}

export interface ReportEndpoint {
  path: string;
  /** The JSON:API type of the request and the answer, e.g. `campaign-values-report`. */
  type: string;
  subject: ReportSubject;
  shape: ReportShape;
  scopes: readonly string[];
  statistics: readonly string[];
  /** Whether `conversion_metric_id` is required (campaigns and flows). */
  conversionMetric: boolean;
  /** Allowed `group_by` values; empty when the endpoint takes no `group_by` (segments). */
  groupBy: readonly string[];
  /** What the answer is grouped by when `group_by` is absent. */
  defaultGroupBy: readonly string[];
  /** `group_by` values that must be present when `group_by` is given. */
  requiredGroupBy: readonly string[];
  filters: Readonly<Record<string, FilterAttribute>>;
  /** `send_channel` values a filter may name. */
  channels?: readonly string[];
  /** Whether the endpoint takes `?page_cursor=` (campaigns and flows). */
  pageCursor: boolean;
  /** Earliest day the endpoint has data for (segments: 2023-06-01), as epoch seconds. */
  earliestSec?: number;
}

/** 1/s burst, 2/min steady and 225 per day, the same for all seven. */
export const REPORT_LIMITS = { burst: 1, steady: 2 } as const;

const MESSAGE_STATISTICS = [
  'average_order_value',
  'bounce_rate',
  'bounced',
  'bounced_or_failed',
  'bounced_or_failed_rate',
  'click_rate',
  'click_to_open_rate',
  'clicks',
  'clicks_unique',
  'conversion_rate',
  'conversion_uniques',
  'conversion_value',
  'conversions',
  'delivered',
  'delivery_rate',
  'failed',
  'failed_rate',
  'message_segment_count_sum',
  'open_rate',
  'opens',
  'opens_unique',
  'recipients',
  'revenue_per_recipient',
  'spam_complaint_rate',
  'spam_complaints',
  'text_message_credit_usage_amount',
  'text_message_roi',
  'text_message_spend',
  'unsubscribe_rate',
  'unsubscribe_uniques',
  'unsubscribes',
] as const;

const FORM_STATISTICS = [
  'closed_form',
  'closed_form_uniques',
  'qualified_form',
  'qualified_form_uniques',
  'submit_rate',
  'submits',
  'submitted_form_step',
  'submitted_form_step_uniques',
  'viewed_form',
  'viewed_form_step',
  'viewed_form_step_uniques',
  'viewed_form_uniques',
] as const;

const SEGMENT_STATISTICS = ['members_added', 'members_removed', 'net_members_changed', 'total_members'] as const;

const SCALAR = ['equals', 'contains-any'] as const;
const LIST = ['contains-any', 'contains-all'] as const;
const SEND_CHANNELS = ['email', 'sms', 'push-notification', 'whatsapp'] as const;

const CAMPAIGN_FILTERS: Record<string, FilterAttribute> = {
  send_channel: { operators: SCALAR, list: false },
  campaign_id: { operators: SCALAR, list: false },
  campaign_message_id: { operators: SCALAR, list: false },
  campaign_message_name: { operators: SCALAR, list: false },
  variation: { operators: SCALAR, list: false },
  variation_name: { operators: SCALAR, list: false },
  text_message_format: { operators: SCALAR, list: false },
  tag_id: { operators: LIST, list: true },
  tag_name: { operators: LIST, list: true },
};

const FLOW_FILTERS: Record<string, FilterAttribute> = {
  flow_id: { operators: SCALAR, list: false },
  flow_name: { operators: SCALAR, list: false },
  send_channel: { operators: SCALAR, list: false },
  flow_message_id: { operators: SCALAR, list: false },
  flow_message_name: { operators: SCALAR, list: false },
  text_message_format: { operators: SCALAR, list: false },
  variation: { operators: SCALAR, list: false },
  variation_name: { operators: SCALAR, list: false },
  tag_id: { operators: LIST, list: true },
  tag_name: { operators: LIST, list: true },
};

const FLOW_GROUP_BY = [
  'flow_id',
  'flow_message_id',
  'flow_message_name',
  'flow_name',
  'send_channel',
  'tag_id',
  'tag_name',
  'text_message_format',
  'variation',
  'variation_name',
] as const;

const flow = (shape: ReportShape): ReportEndpoint => ({
  path: `/api/flow-${shape}-reports`,
  type: `flow-${shape}-report`,
  subject: 'flow',
  shape,
  scopes: ['flows:read'],
  statistics: MESSAGE_STATISTICS,
  conversionMetric: true,
  groupBy: FLOW_GROUP_BY,
  defaultGroupBy: ['flow_id', 'flow_message_id', 'send_channel'],
  requiredGroupBy: ['flow_message_id', 'flow_id'],
  filters: FLOW_FILTERS,
  channels: SEND_CHANNELS,
  pageCursor: true,
});

const form = (shape: ReportShape): ReportEndpoint => ({
  path: `/api/form-${shape}-reports`,
  type: `form-${shape}-report`,
  subject: 'form',
  shape,
  scopes: ['forms:read'],
  statistics: FORM_STATISTICS,
  conversionMetric: false,
  groupBy: ['form_id', 'form_version_id'],
  defaultGroupBy: ['form_id'],
  // form_version_id needs form_id beside it (its prerequisite).
  requiredGroupBy: ['form_id'],
  filters: {
    form_id: { operators: ['equals', 'any'], list: false },
    form_version_id: { operators: ['equals', 'any'], list: false },
  },
  pageCursor: false,
});

const segment = (shape: ReportShape): ReportEndpoint => ({
  path: `/api/segment-${shape}-reports`,
  type: `segment-${shape}-report`,
  subject: 'segment',
  shape,
  scopes: ['segments:read'],
  statistics: SEGMENT_STATISTICS,
  conversionMetric: false,
  groupBy: [],
  defaultGroupBy: ['segment_id'],
  requiredGroupBy: [],
  filters: { segment_id: { operators: ['equals', 'any'], list: false } },
  pageCursor: false,
  earliestSec: Date.UTC(2023, 5, 1) / 1000,
});

export const REPORT_ENDPOINTS: readonly ReportEndpoint[] = Object.freeze([
  {
    path: '/api/campaign-values-reports',
    type: 'campaign-values-report',
    subject: 'campaign',
    shape: 'values',
    scopes: ['campaigns:read'],
    statistics: MESSAGE_STATISTICS,
    conversionMetric: true,
    groupBy: [
      'campaign_id',
      'campaign_message_id',
      'campaign_message_name',
      'group',
      'group_name',
      'send_channel',
      'tag_id',
      'tag_name',
      'text_message_format',
      'variation',
      'variation_name',
    ],
    defaultGroupBy: ['campaign_id', 'campaign_message_id', 'send_channel'],
    requiredGroupBy: ['campaign_id', 'campaign_message_id'],
    filters: CAMPAIGN_FILTERS,
    channels: SEND_CHANNELS,
    pageCursor: true,
  },
  flow('values'),
  flow('series'),
  form('values'),
  form('series'),
  segment('values'),
  segment('series'),
]);

/** The reporting endpoint a path names, with or without a trailing slash. */
export function matchReportRoute(pathname: string): ReportEndpoint | undefined {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  return REPORT_ENDPOINTS.find((e) => e.path === path);
}

/** Every `filter` list holds at most this many values. */
export const MAX_FILTER_VALUES = 100;
