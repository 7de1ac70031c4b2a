import { numericId, shortId } from '../ids';
import { hash32, RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { allRows, rowSource, type ParentRow, type TableModel } from './table-model';
import { DAY, edgeString, HOUR, isoSeconds } from './values';

const SALT = saltOf('flow');
const TRIGGERS = ['Metric', 'Added to List', 'Date Based', 'Price Drop', 'Low Inventory', 'Unconfigured'] as const;
const ACTIONS = [
  { type: 'send-email', actionType: 'SEND_EMAIL', channel: 'email' },
  { type: 'time-delay', actionType: 'TIME_DELAY', channel: null },
  { type: 'send-sms', actionType: 'SEND_SMS', channel: 'sms' },
  { type: 'conditional-split', actionType: 'CONDITIONAL_SPLIT', channel: null },
  { type: 'send-mobile-push', actionType: 'SEND_PUSH_NOTIFICATION', channel: 'push' },
  { type: 'update-profile', actionType: 'UPDATE_CUSTOMER', channel: null },
] as const;

/**
 * Flows, their actions (fan-out per flow) and the actions' messages (fan-out per action). An action's "global
 * index" is flow * flowActionsPerFlow + k; it is the parent index of flow_messages.
 */
export class Flows {
  readonly count: number;
  private readonly maxActions: number;
  private actionById?: Map<string, number>;

  constructor(private readonly ds: Dataset) {
    this.count = ds.sizes.flows;
    this.maxActions = Math.max(1, ds.sizes.flowActionsPerFlow);
  }

  id(index: number): string {
    return shortId(this.ds.seed, 'flow', index);
  }

  private createdSec(index: number): number {
    return this.ds.state.startSec - 500 * DAY + index * 5 * DAY;
  }

  trigger(index: number): (typeof TRIGGERS)[number] {
    return TRIGGERS[hash32(this.ds.seed, SALT, index) % TRIGGERS.length];
  }

  /** The metric (or list) index a flow is triggered by. */
  private triggerTarget(index: number, of: number): number {
    return of === 0 ? -1 : hash32(this.ds.seed, SALT, index, 2) % of;
  }

  flowsTriggeredByMetric(metric: number): ResourceRef[] {
    return this.flowsTriggeredBy('Metric', metric, this.ds.metrics.count);
  }

  flowsTriggeredByList(list: number): ResourceRef[] {
    return this.flowsTriggeredBy('Added to List', list, this.ds.sizes.lists);
  }

  /** The flows with this trigger whose target (one of `of` metrics or lists) is `target`. */
  private flowsTriggeredBy(trigger: (typeof TRIGGERS)[number], target: number, of: number): ResourceRef[] {
    const out: ResourceRef[] = [];
    for (let f = 0; f < this.count; f++) {
      if (this.trigger(f) === trigger && this.triggerTarget(f, of) === target) out.push(this.ref(f));
    }
    return out;
  }

  ref(index: number): ResourceRef {
    return { type: 'flow', id: this.id(index), load: () => this.row(index) };
  }

  row(index: number): Resource {
    const r = new RowRandom(this.ds.seed, SALT, index);
    const created = this.createdSec(index);
    const actions: ResourceRef[] = [];
    for (let k = 0; k < this.actionCount(index); k++) actions.push(this.actionRef(index * this.maxActions + k));
    return {
      type: 'flow',
      id: this.id(index),
      attributes: {
        name: `${r.pick(['Welcome Series', 'Abandoned Cart 🛒', 'Win-back "lapsed"', 'Browse Abandonment', 'Post-purchase'])} ${index}`,
        status: r.pick(['live', 'draft', 'manual']),
        archived: r.chance(0.1),
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(100 * DAY)),
        trigger_type: this.trigger(index),
      },
      relationships: { 'flow-actions': actions, tags: this.ds.tags.tagsOf('flow', index) },
    };
  }

  actionCount(flow: number): number {
    return 1 + (hash32(this.ds.seed, SALT, flow, 3) % this.maxActions);
  }

  private actionKind(global: number): (typeof ACTIONS)[number] {
    return ACTIONS[hash32(this.ds.seed, saltOf('flow-action'), global) % ACTIONS.length];
  }

  actionId(global: number): string {
    return numericId(this.ds.seed, 'flow-action', global, 10_000_000);
  }

  actionRef(global: number): ResourceRef {
    return { type: 'flow-action', id: this.actionId(global), load: () => this.actionRow(global) };
  }

  actionRow(global: number): Resource {
    const flow = Math.floor(global / this.maxActions);
    const r = new RowRandom(this.ds.seed, saltOf('flow-action'), global);
    const kind = this.actionKind(global);
    const created = this.createdSec(flow) + (global % this.maxActions) * HOUR;
    const status = r.pick(['live', 'draft', 'manual']);
    const edge = edgeString(r, this.ds.hostile);
    // Each action type has its own data shape in Klaviyo's schema (FlowActionEncoded... definitions).
    const data =
      kind.type === 'time-delay'
        ? { unit: 'days', value: r.between(1, 7), secondary_value: null, timezone: 'profile' }
        : kind.type === 'conditional-split'
          ? {
              profile_filter: {
                condition_groups: [
                  {
                    conditions: [
                      {
                        type: 'profile-property',
                        property: "properties['loyalty_tier']",
                        filter: { type: 'string', operator: 'equals', value: r.pick(['gold', 'silver']) },
                      },
                    ],
                  },
                ],
              },
            }
          : kind.type === 'update-profile'
            ? {
                status,
                profile_operations: [
                  { operator: 'update', property_type: 'string', property_key: 'loyalty_tier', property_value: edge },
                ],
              }
            : kind.type === 'send-email'
              ? {
                  status,
                  message: {
                    from_email: 'store@example.com',
                    from_label: 'Example Store',
                    subject_line: `We miss you ${edge}`,
                    preview_text: null,
                    template_id: null,
                    smart_sending_enabled: r.chance(0.7),
                  },
                }
              : { status, message: { body: `Message ${global}: ${edge}` } };
    const next = this.actionCount(flow) > (global % this.maxActions) + 1 ? this.actionId(global + 1) : null;
    const links = kind.type === 'conditional-split' ? { next_if_true: next, next_if_false: null } : { next };
    return {
      type: 'flow-action',
      id: this.actionId(global),
      attributes: {
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(60 * DAY)),
        definition: { id: this.actionId(global), type: kind.type, data, links },
      },
      relationships: {
        flow: this.ref(flow),
        'flow-messages': this.messageCount(global) > 0 ? [this.messageRef(global)] : [],
      },
      filterValues: { action_type: kind.actionType, status },
    };
  }

  messageCount(global: number): number {
    return this.actionKind(global).channel === null ? 0 : 1;
  }

  private messageId(global: number): string {
    return shortId(this.ds.seed, 'flow-message', global);
  }

  messageRef(global: number): ResourceRef {
    return { type: 'flow-message', id: this.messageId(global), load: () => this.messageRow(global) };
  }

  messageRow(global: number): Resource {
    const kind = this.actionKind(global);
    const r = new RowRandom(this.ds.seed, saltOf('flow-message'), global);
    const flow = Math.floor(global / this.maxActions);
    const created = this.createdSec(flow) + (global % this.maxActions) * HOUR + 60;
    const name = `Message ${global} ${r.pick(['✉️', '"quoted"', 'plain'])}`;
    const templates = this.ds.sizes.templates;
    return {
      type: 'flow-message',
      id: this.messageId(global),
      attributes: {
        channel: kind.channel,
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(30 * DAY)),
        // The message itself, flat, in the shape of its channel (Klaviyo's FlowEmail, FlowSms, FlowPushNotification).
        definition:
          kind.channel === 'email'
            ? {
                from_email: 'store@example.com',
                from_label: 'Example Store',
                subject_line: 'We miss you',
                preview_text: edgeString(r, this.ds.hostile),
                template_id: templates > 0 ? this.ds.content.templateId(global % templates) : null,
                smart_sending_enabled: true,
              }
            : kind.channel === 'sms'
              ? { body: `Hi {{ first_name|default:'there' }} ${edgeString(r, this.ds.hostile)}` }
              : { title: 'We miss you', body: edgeString(r, this.ds.hostile) || 'Come back', push_type: 'standard' },
      },
      relationships: {
        'flow-action': this.actionRef(global),
        template: kind.channel === 'email' && templates > 0 ? this.ds.content.templateRef(global % templates) : null,
      },
      filterValues: { name },
    };
  }

  private *actionRows(): Iterable<ParentRow> {
    for (let f = 0; f < this.count; f++) {
      for (let k = 0; k < this.actionCount(f); k++) {
        const global = f * this.maxActions + k;
        yield { index: global, id: this.actionId(global) };
      }
    }
  }

  models(): Record<string, TableModel> {
    const flows = () => this.ds.cached('flows', () => rowSource(this.count, (i) => this.row(i)));
    return {
      flows: { source: flows },
      flow_actions: {
        source: (flow) => rowSource(this.actionCount(flow), (k) => this.actionRow(flow * this.maxActions + k)),
        parents: () => allRows(flows()),
        indexOfId: (id) => {
          if (!this.actionById) {
            this.actionById = new Map();
            for (const row of this.actionRows()) this.actionById.set(row.id, row.index);
          }
          return this.actionById.get(id);
        },
      },
      flow_messages: {
        source: (global) => rowSource(this.messageCount(global), () => this.messageRow(global)),
        parents: () => this.actionRows(),
      },
    };
  }
}
