import { hash32, saltOf } from '../random';
import type { Dataset } from './dataset';
import { DAY } from './values';

const SALT = saltOf('message-activity');

/**
 * Conversions are attributed to a campaign message sent at most this long before them (Klaviyo's default window),
 * and a campaign's email and SMS events all fall within it after its send: a campaign's figures stop changing once
 * it has passed.
 */
export const ATTRIBUTION_WINDOW_SECONDS = 5 * DAY;

export type SendChannel = 'email' | 'sms' | 'push-notification';

/** A message the account sent: a campaign message (sent once) or a flow message (sending all the time). */
export interface SentMessage {
  id: string;
  source: 'campaign' | 'flow';
  /** The campaign's or the flow's id and index. */
  parentId: string;
  parentIndex: number;
  /** Campaign messages: their number within the campaign; flow messages: the global index of their action. */
  index: number;
  channel: SendChannel;
  /** Campaign messages of sent campaigns: the campaign's `send_time`; null otherwise. */
  sendSec: number | null;
}

/** What an event means to the reports, by its metric's name. */
export type ActivityRole = 'received' | 'opened' | 'clicked' | 'conversion' | 'form-view' | 'form-submit';

const ROLE_OF_METRIC: Record<string, { role: ActivityRole; channel?: SendChannel }> = {
  'Received Email': { role: 'received', channel: 'email' },
  'Opened Email': { role: 'opened', channel: 'email' },
  'Clicked Email': { role: 'clicked', channel: 'email' },
  'Received SMS': { role: 'received', channel: 'sms' },
  'Active on Site': { role: 'form-view' },
  'Subscribed to List': { role: 'form-submit' },
};

/** Metrics whose events a message can be credited with (they carry `$value`). */
const CONVERSION_KINDS = new Set(['order', 'product']);

interface Directory {
  messages: SentMessage[];
  /** Per channel, the sent campaign messages ordered by send time. */
  sends: Map<SendChannel, { sendSec: number[]; message: number[] }>;
  /** Per channel, the flow messages; under `any`, all of them (a conversion may follow a message of any channel). */
  flowMessages: Map<SendChannel | 'any', number[]>;
}

/**
 * Which message, form or nothing each event belongs to: a pure function of the event's ordinal, its metric, its
 * time and the account's campaigns and flows, written into the event's own properties (`$message` with `$campaign`
 * or `$flow` on email and SMS events; `$attributed_message` with `$attributed_campaign` or `$attributed_flow` on
 * the order and product events credited to a message; `$form` and `$form_version` on form views and submits), so a
 * test can recompute every report figure from /api/events alone.
 */
export class MessageActivity {
  private roles?: ({ role: ActivityRole; channel?: SendChannel } | null)[];

  constructor(private readonly ds: Dataset) {}

  /** The role of a metric's events, if any. */
  role(metric: number): { role: ActivityRole; channel?: SendChannel } | null {
    if (metric < 0) return null;
    this.roles ??= Array.from({ length: this.ds.metrics.count }, (_, m) => {
      const known = ROLE_OF_METRIC[this.ds.metrics.name(m)];
      if (known) return known;
      return CONVERSION_KINDS.has(this.ds.metrics.kind(m)) ? { role: 'conversion' as const } : null;
    });
    return this.roles[metric] ?? null;
  }

  directory(): Directory {
    return this.ds.cached('message-directory', () => this.buildDirectory());
  }

  private buildDirectory(): Directory {
    const ds = this.ds;
    const messages: SentMessage[] = [];
    const sends = new Map<SendChannel, { sendSec: number; message: number }[]>();
    const flowMessages = new Map<SendChannel | 'any', number[]>();
    for (let c = 0; c < ds.campaigns.count; c++) {
      const row = ds.campaigns.row(c);
      const sendTime = row.attributes?.send_time;
      const sendSec = typeof sendTime === 'string' ? Date.parse(sendTime) / 1000 : null;
      const channel = sendChannelOf(ds.campaigns.channel(c));
      for (let k = 0; k < ds.campaigns.messageCount(c); k++) {
        const at = messages.length;
        messages.push({
          id: ds.campaigns.messageRef(c, k).id,
          source: 'campaign',
          parentId: row.id,
          parentIndex: c,
          index: k,
          channel,
          sendSec,
        });
        if (sendSec !== null) push(sends, channel, { sendSec, message: at });
      }
    }
    const actions = ds.model('flow_messages').parents?.() ?? [];
    for (const action of actions) {
      if (ds.flows.messageCount(action.index) === 0) continue;
      const message = ds.flows.messageRow(action.index);
      const flowIndex = Math.floor(action.index / Math.max(1, ds.sizes.flowActionsPerFlow));
      const channel = sendChannelOf(String(message.attributes?.channel));
      push(flowMessages, channel, messages.length);
      push(flowMessages, 'any', messages.length);
      messages.push({
        id: message.id,
        source: 'flow',
        parentId: ds.flows.id(flowIndex),
        parentIndex: flowIndex,
        index: action.index,
        channel,
        sendSec: null,
      });
    }
    const sorted = new Map<SendChannel, { sendSec: number[]; message: number[] }>();
    for (const [channel, list] of sends) {
      list.sort((a, b) => a.sendSec - b.sendSec || a.message - b.message);
      sorted.set(channel, { sendSec: list.map((s) => s.sendSec), message: list.map((s) => s.message) });
    }
    return { messages, sends: sorted, flowMessages };
  }

  /** The index (into `directory().messages`) of the message an event belongs to, or -1. */
  messageOf(ordinal: number, metric = this.ds.events.metricIndex(ordinal)): number {
    const role = this.role(metric);
    if (!role || role.role === 'form-view' || role.role === 'form-submit') return -1;
    const h = hash32(this.ds.seed, SALT, ordinal);
    // Half of the orders and product events are credited to no message.
    if (role.role === 'conversion' && h % 2 === 0) return -1;
    const at = this.ds.events.seconds(ordinal);
    const dir = this.directory();
    const campaigns: number[] = [];
    for (const channel of role.channel ? [role.channel] : ALL_CHANNELS) {
      const sends = dir.sends.get(channel);
      if (!sends) continue;
      // Campaign messages sent in (at - window, at].
      let i = upperBound(sends.sendSec, at) - 1;
      while (i >= 0 && sends.sendSec[i] > at - ATTRIBUTION_WINDOW_SECONDS) campaigns.push(sends.message[i--]);
    }
    const flows = dir.flowMessages.get(role.channel ?? 'any') ?? [];
    if (campaigns.length > 0 && ((h >>> 8) % 4 !== 0 || flows.length === 0))
      return campaigns[(h >>> 12) % campaigns.length];
    return flows.length > 0 ? flows[(h >>> 16) % flows.length] : -1;
  }

  /** The form and form version a form event belongs to, or null (half of them belong to none). */
  formOf(ordinal: number, metric = this.ds.events.metricIndex(ordinal)): { form: number; version: number } | null {
    const forms = this.ds.sizes.forms;
    if (forms === 0) return null;
    const role = this.role(metric)?.role;
    if (role !== 'form-view' && role !== 'form-submit') return null;
    const h = hash32(this.ds.seed, SALT, ordinal, 1);
    if (h % 2 === 0) return null;
    const form = (h >>> 8) % forms;
    return { form, version: (h >>> 16) % this.ds.content.versionCount(form) };
  }

  /**
   * The properties an event carries for its message or form (empty for other events). The object is shared by every
   * event of that message or form: copy it, never change it.
   */
  propertiesOf(ordinal: number, metric = this.ds.events.metricIndex(ordinal)): Readonly<Record<string, unknown>> {
    const role = this.role(metric)?.role;
    if (role === undefined) return NONE;
    if (role === 'form-view' || role === 'form-submit') {
      const form = this.formOf(ordinal, metric);
      if (!form) return NONE;
      const properties = this.ds.cached('form-event-properties', () => new Map<number, Record<string, unknown>>());
      const key = form.form * 100_000 + form.version;
      let props = properties.get(key);
      if (!props) {
        props = {
          $form: this.ds.content.formId(form.form),
          $form_version: this.ds.content.versionId(form.form, form.version),
        };
        properties.set(key, props);
      }
      return props;
    }
    const message = this.messageOf(ordinal, metric);
    if (message < 0) return NONE;
    const props = this.ds.cached('message-event-properties', () => this.messageProperties());
    return role === 'conversion' ? props.credited[message] : props.sent[message];
  }

  private messageProperties(): { sent: Record<string, unknown>[]; credited: Record<string, unknown>[] } {
    const messages = this.directory().messages;
    return {
      sent: messages.map((m) => ({ $message: m.id, [`$${m.source}`]: m.parentId })),
      credited: messages.map((m) => ({
        $attributed_message: m.id,
        [`$attributed_${m.source}`]: m.parentId,
        $attributed_channel: m.channel,
      })),
    };
  }
}

const ALL_CHANNELS: readonly SendChannel[] = ['email', 'sms', 'push-notification'];
const NONE: Readonly<Record<string, unknown>> = Object.freeze({});

/** Klaviyo's reporting names for a channel: campaigns say `mobile_push`, flow messages `push`. */
export function sendChannelOf(channel: string): SendChannel {
  return channel === 'sms' ? 'sms' : channel === 'email' ? 'email' : 'push-notification';
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The first index whose value is greater than `value`. */
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
