import { ulid } from '../ids';
import { hash32, RowRandom, saltOf, unit } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { allRows, rowSource, type TableModel } from './table-model';
import { DAY, edgeString, HOUR, isoSeconds } from './values';

const SALT = saltOf('campaign');
export const CAMPAIGN_CHANNELS = ['email', 'sms', 'mobile_push'] as const;
type Channel = (typeof CAMPAIGN_CHANNELS)[number];

const STATUSES = ['Draft', 'Scheduled', 'Sent', 'Sent', 'Sent', 'Cancelled', 'Sending', 'Variations Sent'] as const;
const NAMES = [
  'Spring Sale',
  'Black Friday 🖤',
  'Welcome "VIP"',
  'Back\\slash test',
  "Nouveautés d'été",
  'Restock',
] as const;

/** Campaigns (one channel each, filtered by `messages.channel`) and their messages (fan-out, unpaged). */
export class Campaigns {
  readonly count: number;

  constructor(private readonly ds: Dataset) {
    this.count = ds.sizes.campaigns;
  }

  channel(index: number): Channel {
    const u = unit(hash32(this.ds.seed, SALT, index));
    return u < 0.6 ? 'email' : u < 0.85 ? 'sms' : 'mobile_push';
  }

  private createdSec(index: number): number {
    return this.ds.state.startSec - 400 * DAY + index * 2 * DAY;
  }

  id(index: number): string {
    return ulid(this.ds.seed, 'campaign', index, this.createdSec(index) * 1000);
  }

  ref(index: number): ResourceRef {
    return { type: 'campaign', id: this.id(index), load: () => this.row(index) };
  }

  messageCount(index: number): number {
    return this.channel(index) === 'email' && hash32(this.ds.seed, SALT, index, 1) % 5 === 0 ? 2 : 1;
  }

  row(index: number): Resource {
    const ds = this.ds;
    const r = new RowRandom(ds.seed, SALT, index);
    const channel = this.channel(index);
    const created = this.createdSec(index);
    const status = r.pick(STATUSES);
    const scheduled = status === 'Draft' ? null : created + r.int(10 * DAY);
    const lists = ds.sizes.lists;
    const segments = ds.sizes.segments;
    const messages: ResourceRef[] = [];
    for (let k = 0; k < this.messageCount(index); k++) messages.push(this.messageRef(index, k));
    return {
      type: 'campaign',
      id: this.id(index),
      attributes: {
        name: `${r.pick(NAMES)} #${index}`,
        status,
        archived: r.chance(0.1),
        audiences: {
          included: lists > 0 ? [ds.groups.id('list', r.int(lists))] : [],
          excluded: segments > 0 && r.chance(0.4) ? [ds.groups.id('segment', r.int(segments))] : [],
        },
        send_options: { use_smart_sending: r.chance(0.7) },
        tracking_options:
          channel === 'mobile_push'
            ? null
            : {
                add_tracking_params: r.chance(0.5),
                custom_tracking_params: r.chance(0.3)
                  ? [{ type: 'static', value: 'spring"sale', name: 'utm_term' }]
                  : null,
                ...(channel === 'email' ? { is_tracking_clicks: true, is_tracking_opens: r.chance(0.8) } : {}),
              },
        send_strategy: {
          method: scheduled === null ? 'immediate' : 'static',
          datetime: scheduled === null ? null : isoSeconds(scheduled),
          options: scheduled === null ? null : { is_local: r.chance(0.3), send_past_recipients_immediately: false },
        },
        created_at: isoSeconds(created),
        scheduled_at: scheduled === null ? null : isoSeconds(scheduled),
        updated_at: isoSeconds(created + r.int(30 * DAY)),
        send_time: status === 'Sent' && scheduled !== null ? isoSeconds(scheduled + HOUR) : null,
      },
      relationships: { 'campaign-messages': messages, tags: ds.tags.tagsOf('campaign', index) },
      filterValues: { 'messages.channel': channel },
    };
  }

  private messageId(campaign: number, k: number): string {
    return ulid(this.ds.seed, 'campaign-message', campaign * 4 + k, (this.createdSec(campaign) + k) * 1000);
  }

  messageRef(campaign: number, k: number): ResourceRef {
    return { type: 'campaign-message', id: this.messageId(campaign, k), load: () => this.messageRow(campaign, k) };
  }

  messageRow(campaign: number, k: number): Resource {
    const ds = this.ds;
    const r = new RowRandom(ds.seed, saltOf('campaign-message'), campaign, k);
    const channel = this.channel(campaign);
    const created = this.createdSec(campaign) + k * HOUR;
    const label = k === 0 ? 'Variation A' : 'Variation B';
    const content =
      channel === 'email'
        ? {
            subject: r.pick(['Hello 👋', 'Your "deal" inside', 'Ça commence!', 'Last chance\\today']),
            preview_text: edgeString(r, ds.hostile),
            from_email: 'store@example.com',
            from_label: 'Example Store',
            reply_to_email: r.chance(0.3) ? 'help@example.com' : null,
            cc_email: null,
            bcc_email: null,
          }
        : channel === 'sms'
          ? { body: `Sale now on! Reply STOP to opt out. ${edgeString(r, ds.hostile)}`, media_url: null }
          : { title: 'Flash sale ⚡', body: 'Tap to shop', dynamic_image: null };
    // Push messages say which kind of notification they are, and carry their options beside the content.
    const definition =
      channel === 'mobile_push'
        ? {
            channel,
            notification_type: 'standard',
            content,
            kv_pairs: r.chance(0.3) ? { promo: 'flash', 'deep "link"': '/sale' } : null,
            options: { on_open: { type: 'open_app' }, badge: { display: false }, play_sound: r.chance(0.5) },
          }
        : channel === 'sms'
          ? { channel, content, render_options: { shorten_links: true, add_org_prefix: r.chance(0.5) } }
          : { channel, label, content };
    const templates = ds.sizes.templates;
    const images = ds.sizes.images;
    return {
      type: 'campaign-message',
      id: this.messageId(campaign, k),
      attributes: {
        definition,
        send_times: r.chance(0.6) ? [{ datetime: isoSeconds(created + DAY), is_local: false }] : null,
        created_at: isoSeconds(created),
        updated_at: isoSeconds(created + r.int(5 * DAY)),
      },
      relationships: {
        campaign: { type: 'campaign', id: this.id(campaign), load: () => this.row(campaign) },
        template: channel === 'email' && templates > 0 ? ds.content.templateRef((campaign + k) % templates) : null,
        image: channel === 'mobile_push' && images > 0 ? ds.content.imageRef(campaign % images) : null,
      },
    };
  }

  models(): Record<string, TableModel> {
    const campaigns = () => this.ds.cached('campaigns', () => rowSource(this.count, (i) => this.row(i)));
    return {
      campaigns: { source: campaigns },
      campaign_messages: {
        source: (campaign) => rowSource(this.messageCount(campaign), (k) => this.messageRow(campaign, k)),
        parents: () => allRows(campaigns()),
      },
    };
  }
}
