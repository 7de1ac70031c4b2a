import { eventId, eventOrdinal, hexId, uuidLike } from '../ids';
import { hash32, RowRandom, saltOf, unit } from '../random';
import type { Dataset } from './dataset';
import type { Condition, Resource, ResourceRef, RowSource } from './row';
import { keyLookup, rowSource, type TableModel } from './table-model';
import { edgeString, HOSTILE_STRINGS, isoSeconds, longText, NUMERIC_LOOKING, PRODUCT_NAMES } from './values';

const SALT = saltOf('event');
const METRIC_SALT = saltOf('event-metric');
const PROFILE_SALT = saltOf('event-profile');

/**
 * Events, addressed by ordinal: the base load, then whatever `advance` appended. An event's datetime comes from its
 * block in WorldState, so it grows with the ordinal (until back-dated events are added); its profile and metric are
 * hashes of the ordinal, so `equals(profile_id, ...)` is a cheap integer comparison per event.
 */
export class Events {
  constructor(private readonly ds: Dataset) {}

  get count(): number {
    return this.ds.state.eventCount;
  }

  seconds(ordinal: number): number {
    return this.ds.state.eventSeconds(ordinal);
  }

  /** Skewed towards the first metrics, like real accounts (lots of "Received Email", fewer refunds). */
  metricIndex(ordinal: number): number {
    const metrics = this.ds.metrics.count;
    if (metrics === 0) return -1;
    const u = unit(hash32(this.ds.seed, METRIC_SALT, ordinal));
    return Math.min(metrics - 1, Math.floor(metrics * u * u));
  }

  profileIndex(ordinal: number): number {
    const profiles = this.ds.profiles.count;
    return profiles === 0 ? -1 : hash32(this.ds.seed, PROFILE_SALT, ordinal) % profiles;
  }

  row(ordinal: number): Resource {
    const ds = this.ds;
    const r = new RowRandom(ds.seed, SALT, ordinal);
    const seconds = this.seconds(ordinal);
    const metric = this.metricIndex(ordinal);
    const profile = this.profileIndex(ordinal);
    const kind = metric >= 0 ? ds.metrics.kind(metric) : 'custom';
    const id = eventId(ds.seed, ordinal);
    return {
      type: 'event',
      id,
      attributes: {
        timestamp: seconds,
        event_properties: this.properties(ordinal, metric, kind, r),
        datetime: isoSeconds(seconds),
        uuid: uuidLike(ds.seed, 'event-uuid', ordinal),
      },
      relationships: {
        profile: profile >= 0 ? ds.profiles.ref(profile) : null,
        metric: metric >= 0 ? ds.metrics.ref(metric) : null,
        attributions: { lazy: () => this.attributions(ordinal, id, kind) },
      },
    };
  }

  private properties(ordinal: number, metric: number, kind: string, r: RowRandom): Record<string, unknown> {
    const hostile = this.ds.hostile;
    const props: Record<string, unknown> = { $event_id: `${ordinal}` };
    switch (kind) {
      case 'order': {
        const count = r.between(1, 3);
        const items = [];
        for (let k = 0; k < count; k++) {
          items.push({
            ProductName: r.pick(PRODUCT_NAMES),
            Quantity: r.between(1, 4),
            ItemPrice: r.amount(1, 250),
            SKU: r.pick(NUMERIC_LOOKING),
          });
        }
        props.$value = r.amount(5, 900);
        props.OrderId = String(ordinal).padStart(10, '0');
        props.Items = items;
        props.ItemNames = items.map((i) => i.ProductName);
        props['Discount Codes'] = r.chance(0.3) ? ['10OFF'] : [];
        props.Currency = r.pick(['USD', 'EUR', 'JPY']);
        props.$extra = {
          note: edgeString(r, hostile),
          gift: r.chance(0.1),
          shipping: { method: 'ground', cost: null },
        };
        break;
      }
      case 'product':
        props.$value = r.amount(1, 250);
        props.ProductName = r.pick(PRODUCT_NAMES);
        props.ProductID = r.pick(NUMERIC_LOOKING);
        props.Categories = r.chance(0.5) ? ['Apparel', 'Sale 🔥'] : [];
        props.URL = `https://shop.example.com/p/${ordinal}?ref="x"&q=a\\b`;
        break;
      case 'email':
        props.$value = 0;
        props.Subject = r.pick(['Hello 👋', 'Your "order" shipped', 'Ça va?', "Don't miss out", '']);
        props['Campaign Name'] = `Campaign ${r.int(50)}`;
        props['Email Domain'] = 'example.com';
        // The draw is kept so every later property stays as it was; `$message` comes from the message it belongs to.
        r.int(1000);
        break;
      case 'sms':
        props.$value = 0;
        props['Message Body'] = edgeString(r, hostile);
        props['From Number'] = '+15550000000';
        break;
      default:
        props.$value = r.chance(0.5) ? r.amount(0, 100) : null;
        props.page = `https://shop.example.com/${r.int(100)}`;
        props.nested = { a: { b: { c: [1, { d: null }] } }, $weird_key: true, 'key with spaces': 'v' };
        props.numeric_string = r.pick(NUMERIC_LOOKING);
        props.note = edgeString(r, hostile);
    }
    Object.assign(props, this.ds.activity.propertiesOf(ordinal, metric));
    if (r.chance(0.005)) props.long_text = longText(4000, r);
    if (hostile && r.chance(0.2)) {
      props['"; DROP TABLE x; --'] = r.pick(HOSTILE_STRINGS);
      props.control = 'bell\u0007nul\u0000end';
    }
    return props;
  }

  private attributions(ordinal: number, eventIdValue: string, kind: string): ResourceRef[] {
    if (kind !== 'order' || hash32(this.ds.seed, SALT, ordinal, 9) % 3 !== 0) return [];
    const id = hexId(this.ds.seed, 'attribution', ordinal);
    const campaigns = this.ds.campaigns.count;
    const campaign = campaigns > 0 ? this.ds.campaigns.ref(ordinal % campaigns) : null;
    const event = { type: 'event', id: eventIdValue };
    return [
      {
        type: 'attribution',
        id,
        load: () => ({
          type: 'attribution',
          id,
          relationships: { event, 'attributed-event': event, campaign },
        }),
      },
    ];
  }

  /** `equals(metric_id|profile_id, ...)` as an integer comparison, `has(profile|metric)` as a constant. */
  private predicate(condition: Condition): ((ordinal: number) => boolean) | undefined {
    const value = condition.value;
    if (condition.field === 'metric_id' && condition.op === 'equals') {
      const metric = typeof value === 'string' ? this.ds.metrics.indexOfId(value) : undefined;
      return metric === undefined ? () => false : (o) => this.metricIndex(o) === metric;
    }
    if (condition.field === 'profile_id' && condition.op === 'equals') {
      const profile = typeof value === 'string' ? this.ds.profiles.indexOfId(value) : undefined;
      return profile === undefined ? () => false : (o) => this.profileIndex(o) === profile;
    }
    if (condition.op === 'has' && condition.field === 'profile') return () => this.ds.profiles.count > 0;
    if (condition.op === 'has' && condition.field === 'metric') return () => this.ds.metrics.count > 0;
    return undefined;
  }

  source(): RowSource {
    const seconds = (o: number) => this.seconds(o);
    return rowSource(this.count, (o) => this.row(o), {
      key: keyLookup({ datetime: seconds, timestamp: seconds }),
      monotone: this.ds.state.eventsMonotone ? new Set(['datetime', 'timestamp']) : new Set(),
      predicate: (c) => this.predicate(c),
    });
  }

  model(): TableModel {
    return {
      source: () => this.ds.cached('events', () => this.source()),
      ids: () => this.ids(),
      indexOfId: (id) => {
        const ordinal = eventOrdinal(this.ds.seed, id);
        return ordinal !== undefined && ordinal < this.count ? ordinal : undefined;
      },
    };
  }

  *ids(): Iterable<string> {
    const count = this.count;
    for (let o = 0; o < count; o++) yield eventId(this.ds.seed, o);
  }
}
