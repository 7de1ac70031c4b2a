import { shortId, ulid } from '../ids';
import { RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { allRows, rowSource, type TableModel } from './table-model';
import { DAY, edgeString, HOSTILE_STRINGS, isoSeconds, NUMERIC_LOOKING } from './values';

const TOPICS = [
  'event:klaviyo.sent_sms',
  'event:klaviyo.received_sms',
  'event:klaviyo.clicked_sms',
  'event:klaviyo.failed_to_deliver_sms',
  'event:klaviyo.opened_email',
  'event:klaviyo.clicked_email',
  'event:klaviyo.received_email',
  'event:klaviyo.bounced_email',
  'event:klaviyo.marked_email_as_spam',
  'event:klaviyo.unsubscribed_from_email',
  'event:klaviyo.subscribed_to_list',
  'event:klaviyo.unsubscribed_from_list',
] as const;

/** The account's timezone: report time frames and series buckets follow its days. */
export const ACCOUNT_TIMEZONE = 'America/New_York';

/** The account itself, tracking settings, webhooks (+ topics), data sources and custom objects (+ records). */
export class AccountSettings {
  /** The account id, which is also its 6-character public API key (site id). */
  readonly accountId: string;

  constructor(private readonly ds: Dataset) {
    this.accountId = shortId(ds.seed, 'account', 0);
  }

  accountRow(): Resource {
    return {
      type: 'account',
      id: this.accountId,
      attributes: {
        test_account: false,
        contact_information: {
          default_sender_name: 'Sandbox Store',
          default_sender_email: 'store@example.com',
          website_url: 'https://shop.example.com',
          organization_name: 'Sandbox "Klaviyo" Store',
          street_address: {
            address1: '1 Main St',
            address2: null,
            city: 'Boston',
            region: 'MA',
            country: 'United States',
            zip: '02134',
          },
        },
        industry: 'Retail',
        timezone: ACCOUNT_TIMEZONE,
        preferred_currency: 'USD',
        public_api_key: this.accountId,
        locale: 'en-US',
      },
    };
  }

  trackingRow(): Resource {
    // Dynamic values come from per-channel enums (campaign_name for campaigns, flow_name for flows).
    const dynamic = (campaign: string, flow: string) => ({
      campaign: { type: 'dynamic', value: campaign },
      flow: { type: 'dynamic', value: flow },
    });
    const fixed = (value: string) => ({ campaign: { type: 'static', value }, flow: { type: 'static', value } });
    return {
      type: 'tracking-setting',
      id: this.accountId,
      attributes: {
        auto_add_parameters: true,
        utm_source: dynamic('campaign_name', 'flow_name'),
        utm_medium: fixed('email'),
        utm_campaign: dynamic('campaign_id', 'flow_id'),
        utm_id: null,
        utm_term: null,
        custom_parameters: [{ name: 'ref "src"', campaign: { type: 'static', value: 'klaviyo' }, flow: null }],
      },
    };
  }

  private topicCount(): number {
    return Math.min(TOPICS.length, this.ds.sizes.webhookTopics);
  }

  topicRef(index: number): ResourceRef {
    return { type: 'webhook-topic', id: TOPICS[index], load: () => ({ type: 'webhook-topic', id: TOPICS[index] }) };
  }

  webhookRow(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('webhook'), index);
    const created = this.ds.state.startSec - 90 * DAY + index * DAY;
    const topics: ResourceRef[] = [];
    for (let t = index % 3; t < this.topicCount(); t += 3) topics.push(this.topicRef(t));
    return {
      type: 'webhook',
      id: ulid(this.ds.seed, 'webhook', index, created * 1000),
      attributes: {
        name: `Webhook ${index} ${r.pick(['→ CRM', '"audit"', 'ünïcode'])}`,
        description: r.chance(0.5) ? edgeString(r, this.ds.hostile) : null,
        endpoint_url: `https://hooks.example.com/${index}?token=abc&x="y"`,
        enabled: r.chance(0.8),
        created_at: isoSeconds(created),
        updated_at: r.chance(0.8) ? isoSeconds(created + r.int(10 * DAY)) : null,
      },
      relationships: { 'webhook-topics': topics },
    };
  }

  dataSourceRow(index: number): Resource {
    const created = this.ds.state.startSec - 60 * DAY + index * DAY;
    return {
      type: 'data-source',
      id: ulid(this.ds.seed, 'data-source', index, created * 1000),
      attributes: {
        title: `Warehouse ${index} "prod"`,
        visibility: index % 2 === 0 ? 'private' : 'shared',
        description: 'Rows from the data warehouse; ünïcode ok',
        namespace: `ns_${index}`,
      },
    };
  }

  objectTypeId(index: number): string {
    return ulid(this.ds.seed, 'object-type', index, (this.ds.state.startSec - 50 * DAY + index * DAY) * 1000);
  }

  objectTypeRow(index: number): Resource {
    const created = this.ds.state.startSec - 50 * DAY + index * DAY;
    const id = this.objectTypeId(index);
    const schemaId = `${id}-schema-1`;
    return {
      type: 'object-type',
      id,
      attributes: {
        title: ['Subscription', 'Vehicle', 'Réservation'][index % 3] + (index >= 3 ? ` ${index}` : ''),
        description: 'Custom object type',
        status: ['active', 'draft', 'publishing', 'undefined'][index % 4],
        namespace: `custom_${index}`,
        created_at: isoSeconds(created),
        updated_at: isoSeconds(created + DAY),
      },
      relationships: {
        'current-schema': {
          type: 'object-schema',
          id: schemaId,
          load: () => ({
            type: 'object-schema',
            id: schemaId,
            attributes: {
              title: `Schema of ${id}`,
              description: 'Custom object schema',
              status: 'active',
              properties: [
                { id: 1, name: 'plan', type: 'string', description: null },
                { id: 2, name: 'amount', type: 'float', description: 'Amount in "USD"' },
                { id: 3, name: 'started_at', type: 'timestamp', description: null },
              ],
              required: ['plan'],
              published_at: isoSeconds(created + DAY),
              visibility: index % 2 === 0 ? 'private' : 'shared',
            },
          }),
        },
        'draft-schema': null,
        'schema-versions': { lazy: () => [] },
        'object-types': { lazy: () => [] },
        'profile-object-types': { lazy: () => [] },
      },
    };
  }

  objectRecordRow(type: number, k: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('object-record'), type, k);
    const record: Record<string, unknown> = {
      plan: r.pick(['basic', 'pro', 'entreprise']),
      amount: r.amount(1, 500),
      amount_text: r.pick(NUMERIC_LOOKING),
      active: r.chance(0.7),
      started_at: isoSeconds(this.ds.state.startSec - r.int(300) * DAY),
      notes: edgeString(r, this.ds.hostile),
      nested: { $key: 'dollar', list: [1, 'a', null] },
    };
    if (this.ds.hostile) record['"; DROP TABLE x; --'] = r.pick(HOSTILE_STRINGS);
    return {
      type: 'object-record',
      id: `${this.objectTypeId(type)}:::rec-${k}`,
      attributes: { record_properties: record },
    };
  }

  models(): Record<string, TableModel> {
    const s = this.ds.sizes;
    const objectTypes = () =>
      this.ds.cached('object_types', () => rowSource(s.objectTypes, (i) => this.objectTypeRow(i)));
    return {
      accounts: { source: () => rowSource(1, () => this.accountRow()) },
      tracking_settings: { source: () => rowSource(1, () => this.trackingRow()) },
      webhooks: { source: () => rowSource(s.webhooks, (i) => this.webhookRow(i)) },
      webhook_topics: { source: () => rowSource(this.topicCount(), (i) => ({ type: 'webhook-topic', id: TOPICS[i] })) },
      data_sources: { source: () => rowSource(s.dataSources, (i) => this.dataSourceRow(i)) },
      object_types: { source: objectTypes },
      object_records: {
        source: (type) => rowSource(s.objectRecordsPerType, (k) => this.objectRecordRow(type, k)),
        parents: () => allRows(objectTypes()),
      },
    };
  }
}
