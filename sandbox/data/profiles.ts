import { hexId, ulid, ulidTimeMs } from '../ids';
import { hash32, RowRandom, saltOf, unit } from '../random';
import type { Dataset } from './dataset';
import type { Condition, KeyFn, Resource, ResourceRef, RowSource } from './row';
import { keyLookup, rowSource, type TableModel } from './table-model';
import {
  CITIES,
  DAY,
  edgeString,
  FIRST_NAMES,
  HOSTILE_STRINGS,
  isoSeconds,
  LAST_NAMES,
  LOCALES,
  longText,
  NUMERIC_LOOKING,
  slug,
} from './values';

const SALT = saltOf('profile');
const NAME_SALT = saltOf('profile-name');
/** Profiles were created over 700 days ending 30 days before the sandbox start. */
const CREATED_SPAN_SECONDS = 700 * DAY;
const CREATED_LEAD_SECONDS = 730 * DAY;

/**
 * Profiles: `created` (and so the ULID id) grows with the index, which makes `sort=id`/`created` free and lets an id
 * be turned back into its index. `updated` is the creation plus up to 29 days, or the time `advance` touched it.
 */
export class Profiles {
  readonly count: number;
  private readonly t0Ms: number;
  private readonly stepMs: number;

  constructor(private readonly ds: Dataset) {
    this.count = ds.sizes.profiles;
    this.t0Ms = (ds.state.startSec - CREATED_LEAD_SECONDS) * 1000;
    this.stepMs = Math.max(1, Math.floor((CREATED_SPAN_SECONDS * 1000) / Math.max(1, this.count)));
  }

  createdSec(index: number): number {
    return Math.floor((this.t0Ms + index * this.stepMs) / 1000);
  }

  updatedSec(index: number): number {
    const change = this.ds.state.profileChanges.get(index);
    if (change) return change.updatedSec;
    return this.createdSec(index) + (hash32(this.ds.seed, SALT, index, 1) % (29 * DAY));
  }

  id(index: number): string {
    return ulid(this.ds.seed, 'profile', index, this.t0Ms + index * this.stepMs);
  }

  /** The index of a profile id, or undefined: the ULID's time part encodes the index. */
  indexOfId(id: string): number | undefined {
    const ms = ulidTimeMs(id);
    if (!Number.isFinite(ms)) return undefined;
    const index = (ms - this.t0Ms) / this.stepMs;
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined;
    return this.id(index) === id ? index : undefined;
  }

  private names(index: number, revision: number): { first: string | null; last: string | null } {
    const h = hash32(this.ds.seed, NAME_SALT, index, revision);
    const first = h % 31 === 0 ? null : FIRST_NAMES[(h >>> 5) % FIRST_NAMES.length];
    const last = h % 37 === 1 ? null : LAST_NAMES[(h >>> 13) % LAST_NAMES.length];
    return { first, last };
  }

  email(index: number): string | null {
    const h = hash32(this.ds.seed, SALT, index, 2);
    if (h % 25 === 0) return null;
    const { first, last } = this.names(index, 0);
    const tag = h % 7 === 0 ? '+shop' : '';
    return `${slug(first ?? 'anon')}.${slug(last ?? 'user')}${tag}.${index}@example.com`;
  }

  phone(index: number): string | null {
    const h = hash32(this.ds.seed, SALT, index, 3);
    if (h % 2 === 0) return null;
    return `+1555${String(h % 10_000_000).padStart(7, '0')}`;
  }

  externalId(index: number): string | null {
    const h = hash32(this.ds.seed, SALT, index, 4);
    if (h % 3 === 0) return null;
    // Leading zeros: a loader that guesses "number" loses them.
    return h % 3 === 1 ? String(index).padStart(9, '0') : `ext-${index}`;
  }

  ref(index: number): ResourceRef {
    return { type: 'profile', id: this.id(index), load: () => this.row(index) };
  }

  row(index: number): Resource {
    const ds = this.ds;
    const r = new RowRandom(ds.seed, SALT, index);
    const change = ds.state.profileChanges.get(index);
    const revision = change?.revision ?? 0;
    const { first, last } = this.names(index, revision);
    const created = this.createdSec(index);
    const updated = this.updatedSec(index);
    const place = r.pick(CITIES);
    const hasLocation = !r.chance(0.1);
    // Klaviyo types latitude/longitude as string|number: some rows carry strings.
    const asString = r.chance(0.35);
    const location = hasLocation
      ? {
          address1: r.chance(0.8)
            ? `${r.between(1, 9999)} ${r.pick(['Main St', 'Rue de l’Église', 'Hauptstraße', 'Elm "Grove"'])}`
            : null,
          address2: r.chance(0.2) ? `Apt ${r.between(1, 500)}` : null,
          city: place.city,
          country: place.country,
          region: place.region,
          zip: place.zip,
          timezone: place.timezone,
          ip: r.chance(0.7) ? `203.0.113.${r.int(255)}` : null,
          latitude: asString ? String(place.lat) : place.lat,
          longitude: asString ? String(place.lon) : place.lon,
        }
      : null;
    const properties: Record<string, unknown> = {
      $source: r.pick(['Shopify', 'API', 'Signup Form', '-9']),
      loyalty_tier: r.pick(['gold', 'silver', 'bronze', null]),
      'Favorite Color': r.pick(['blue', 'vert', 'rot', '🟣']),
      zip_code: place.zip,
      account_number: r.pick(NUMERIC_LOOKING),
      note: edgeString(r, ds.hostile),
      nested: { level1: { level2: [1, 'two', null, { three: 3.5 }], flag: r.chance(0.5) } },
      sandbox_revision: revision,
    };
    if (r.chance(0.02)) properties.long_note = longText(6000, r);
    if (ds.hostile) {
      properties['"; DROP TABLE x; --'] = r.pick(HOSTILE_STRINGS);
      properties['key\u0000with nul'] = 'nul\u0000value';
    }
    const attributes: Record<string, unknown> = {
      email: this.email(index),
      phone_number: this.phone(index),
      external_id: this.externalId(index),
      first_name: first,
      last_name: last,
      organization: r.chance(0.3) ? r.pick(['Acme & Co.', 'Société Générale', 'O\'Reilly "Media"', '株式会社']) : null,
      locale: r.chance(0.8) ? r.pick(LOCALES) : null,
      title: revision > 0 ? `Title rev ${revision}` : r.chance(0.3) ? r.pick(['CEO', 'Engineer', 'Señor Buyer']) : null,
      image: r.chance(0.25) ? `https://images.example.com/p/${index}.png` : null,
      created: isoSeconds(created),
      updated: isoSeconds(updated),
      last_event_date: r.chance(0.85) ? isoSeconds(Math.min(ds.state.startSec, updated + r.int(30 * DAY))) : null,
      location,
      properties: ds.hostile && r.chance(0.1) ? { ...properties, hostile: r.pick(HOSTILE_STRINGS) } : properties,
    };
    if (ds.hostile && r.chance(0.2)) attributes.organization = r.pick(HOSTILE_STRINGS);
    const tokens = ds.pushTokens.tokensOfProfile(index);
    return {
      type: 'profile',
      id: this.id(index),
      attributes,
      additional: {
        subscriptions: subscriptions(r, created, attributes.phone_number as string | null),
        predictive_analytics: predictive(r, ds.state.startSec),
      },
      relationships: {
        lists: { lazy: () => ds.groups.listsOfProfile(index) },
        segments: { lazy: () => ds.groups.segmentsOfProfile(index) },
        'push-tokens': { lazy: () => tokens.map((t) => ds.pushTokens.ref(t)) },
        conversations: { lazy: () => this.conversations(index) },
      },
      filterValues: { push_token: tokens.map((t) => ds.pushTokens.token(t)), _kx: null },
    };
  }

  private conversations(index: number): ResourceRef[] {
    if (hash32(this.ds.seed, SALT, index, 5) % 10 !== 0) return [];
    const id = hexId(this.ds.seed, 'conversation', index);
    const channel = ['sms', 'whatsapp', 'instagram'][index % 3];
    const profile = { type: 'profile', id: this.id(index) };
    return [
      {
        type: 'conversation',
        id,
        load: () => ({ type: 'conversation', id, attributes: { channel }, relationships: { profile } }),
      },
    ];
  }

  source(): RowSource {
    const keys: Record<string, KeyFn> = {
      id: (i) => this.id(i),
      created: (i) => this.createdSec(i),
      updated: (i) => this.updatedSec(i),
      email: (i) => this.email(i),
      phone_number: (i) => this.phone(i),
      external_id: (i) => this.externalId(i),
    };
    return rowSource(this.count, (i) => this.row(i), {
      key: keyLookup(keys),
      monotone: new Set(['id', 'created']),
      predicate: (c) => this.idPredicate(c, 'id'),
    });
  }

  /** `equals(id, ...)`/`any(id, [...])` without generating ids: decode each wanted id to its index. */
  idPredicate(condition: Condition, field: string): ((index: number) => boolean) | undefined {
    if (condition.field !== field || (condition.op !== 'equals' && condition.op !== 'any')) return undefined;
    const wanted = new Set<number>();
    for (const value of Array.isArray(condition.value) ? condition.value : [condition.value]) {
      const index = typeof value === 'string' ? this.indexOfId(value) : undefined;
      if (index !== undefined) wanted.add(index);
    }
    return (i) => wanted.has(i);
  }

  model(): TableModel {
    return {
      source: () => this.ds.cached('profiles', () => this.source()),
      indexOfId: (id) => this.indexOfId(id),
      ids: () => this.ids(),
    };
  }

  *ids(): Iterable<string> {
    for (let i = 0; i < this.count; i++) yield this.id(i);
  }
}

function subscriptions(r: RowRandom, created: number, phone: string | null): Record<string, unknown> {
  const consentAt = isoSeconds(created + r.int(DAY));
  const emailConsent = r.pick(['SUBSCRIBED', 'UNSUBSCRIBED', 'NEVER_SUBSCRIBED']);
  const suppressed = r.chance(0.05);
  return {
    email: {
      marketing: {
        can_receive_email_marketing: emailConsent === 'SUBSCRIBED' && !suppressed,
        consent: emailConsent,
        consent_timestamp: emailConsent === 'NEVER_SUBSCRIBED' ? null : consentAt,
        last_updated: consentAt,
        method: r.pick(['FORM', 'API', 'PREFERENCE_PAGE', null]),
        method_detail: r.chance(0.5) ? 'Footer form 🎯' : null,
        custom_method_detail: null,
        double_optin: r.chance(0.5) ? r.chance(0.5) : null,
        suppression: suppressed ? [{ reason: 'HARD_BOUNCE', timestamp: consentAt }] : [],
        list_suppressions: [],
      },
    },
    sms: {
      marketing: {
        can_receive_sms_marketing: phone !== null && r.chance(0.5),
        consent: phone === null ? 'NEVER_SUBSCRIBED' : r.pick(['SUBSCRIBED', 'UNSUBSCRIBED']),
        consent_timestamp: phone === null ? null : consentAt,
        method: phone === null ? null : 'TEXT',
        method_detail: phone === null ? null : 'JOIN',
        last_updated: phone === null ? null : consentAt,
      },
      transactional: {
        can_receive_sms_transactional: phone !== null,
        consent: phone === null ? 'NEVER_SUBSCRIBED' : 'SUBSCRIBED',
        consent_timestamp: phone === null ? null : consentAt,
        method: null,
        method_detail: null,
        last_updated: null,
      },
    },
    mobile_push: {
      marketing: { can_receive_push_marketing: r.chance(0.2), consent: 'NEVER_SUBSCRIBED', consent_timestamp: null },
    },
  };
}

function predictive(r: RowRandom, startSec: number): Record<string, unknown> | null {
  if (r.chance(0.3)) return null;
  const historic = r.amount(0, 2500);
  const predicted = r.amount(0, 800);
  return {
    historic_clv: historic,
    predicted_clv: predicted,
    total_clv: Math.round((historic + predicted) * 100) / 100,
    historic_number_of_orders: r.int(40),
    predicted_number_of_orders: r.amount(0, 6, 1),
    average_days_between_orders: r.chance(0.2) ? null : r.amount(5, 200, 1),
    average_order_value: r.amount(10, 300),
    churn_probability: unit(r.next()),
    expected_date_of_next_order: r.chance(0.4) ? null : isoSeconds(startSec + r.int(90 * DAY)),
    ranked_channel_affinity: r.chance(0.5) ? ['email', 'sms', 'push'] : ['sms', 'email'],
  };
}
