import { CATALOG, getTable } from '../../klaviyo/catalog';
import type { SandboxSizes } from '../sizes';
import { AccountSettings } from './account-settings';
import { Campaigns } from './campaigns';
import { CatalogItems } from './catalog-items';
import { Content } from './content';
import { Coupons } from './coupons';
import { Events } from './events';
import { Flows } from './flows';
import { Groups } from './groups';
import { MessageActivity } from './message-activity';
import { Metrics } from './metrics';
import { Profiles } from './profiles';
import { PushTokens } from './push-tokens';
import type { Resource, RowSource } from './row';
import type { TableModel } from './table-model';
import { Tags } from './tags';
import { WorldState } from './world-state';

export interface DatasetOptions {
  seed: number;
  sizes: SandboxSizes;
  hostile: boolean;
  startSec: number;
}

/**
 * The generated Klaviyo account: one model per catalog table, all derived from the seed, the sizes and the
 * WorldState. Sources are cached until the state changes (an `advance`), which drops every derived sort order.
 */
export class Dataset {
  readonly seed: number;
  readonly sizes: SandboxSizes;
  readonly hostile: boolean;
  readonly state: WorldState;

  readonly profiles: Profiles;
  readonly events: Events;
  readonly metrics: Metrics;
  readonly groups: Groups;
  readonly campaigns: Campaigns;
  readonly flows: Flows;
  readonly content: Content;
  readonly tags: Tags;
  readonly coupons: Coupons;
  readonly catalog: CatalogItems;
  readonly pushTokens: PushTokens;
  readonly account: AccountSettings;
  /** Which message or form each event belongs to (the Reporting API's figures derive from it). */
  readonly activity: MessageActivity;

  private readonly models: Record<string, TableModel>;
  private cache = new Map<string, unknown>();
  private cacheVersion = -1;
  private parentIds = new Map<string, Map<string, number>>();

  constructor(options: DatasetOptions) {
    this.seed = options.seed >>> 0;
    this.sizes = options.sizes;
    this.hostile = options.hostile;
    this.state = new WorldState(this.seed, options.startSec, options.sizes.profiles, options.sizes.events);
    this.profiles = new Profiles(this);
    this.events = new Events(this);
    this.metrics = new Metrics(this);
    this.groups = new Groups(this);
    this.campaigns = new Campaigns(this);
    this.flows = new Flows(this);
    this.content = new Content(this);
    this.tags = new Tags(this);
    this.coupons = new Coupons(this);
    this.catalog = new CatalogItems(this);
    this.pushTokens = new PushTokens(this);
    this.account = new AccountSettings(this);
    this.activity = new MessageActivity(this);
    this.models = {
      profiles: this.profiles.model(),
      events: this.events.model(),
      push_tokens: this.pushTokens.model(),
      ...this.metrics.models(),
      ...this.groups.models(),
      ...this.campaigns.models(),
      ...this.flows.models(),
      ...this.content.models(),
      ...this.tags.models(),
      ...this.coupons.models(),
      ...this.catalog.models(),
      ...this.account.models(),
    };
    const missing = CATALOG.filter((t) => !this.models[t.name]).map((t) => t.name);
    if (missing.length > 0) throw new Error(`Sandbox has no generator for: ${missing.join(', ')}`);
  }

  /** A value computed once per state version (sources, sort orders, id maps). */
  cached<T>(key: string, compute: () => T): T {
    this.dropStaleCaches();
    if (this.cache.has(key)) return this.cache.get(key) as T;
    const value = compute();
    this.cache.set(key, value);
    return value;
  }

  private dropStaleCaches(): void {
    if (this.cacheVersion === this.state.version) return;
    this.cache = new Map();
    this.parentIds = new Map();
    this.cacheVersion = this.state.version;
  }

  model(table: string): TableModel {
    const model = this.models[table];
    if (!model) throw new Error(`Unknown table "${table}"`);
    return model;
  }

  /** The rows of a table; for a fan-out table, of the parent row with that index. */
  source(table: string, parentIndex = 0): RowSource {
    const source = this.model(table).source(parentIndex);
    const hiddenIds = this.state.deleted(getTable(table).resourceType);
    return hiddenIds ? { ...source, hiddenIds } : source;
  }

  /** The index of a fan-out table's parent row, from the id in the request path. */
  parentIndex(table: string, parentId: string): number | undefined {
    const parent = getTable(table).parent;
    if (!parent) return undefined;
    // A deleted parent's rows are gone with it: its path answers 404.
    if (this.state.deleted(getTable(parent.table).resourceType)?.has(parentId)) return undefined;
    const parentModel = this.model(parent.table);
    if (parentModel.indexOfId) return parentModel.indexOfId(parentId);
    this.dropStaleCaches();
    let ids = this.parentIds.get(parent.table);
    if (!ids) {
      ids = new Map();
      const source = parentModel.source(0);
      for (let i = 0; i < source.count; i++) ids.set(source.row(i).id, i);
      this.parentIds.set(parent.table, ids);
    }
    return ids.get(parentId);
  }

  /** The catalog table that holds resources of a type (the top-level one when several do), if any. */
  static tableOfType(type: string): string | undefined {
    const tables = CATALOG.filter((t) => t.resourceType === type && !t.idsOnly);
    return (tables.find((t) => t.parent === null) ?? tables[0])?.name;
  }

  /** A resource by type and id, as its single-object GET serves it; undefined when the account has none. */
  resource(type: string, id: string): Resource | undefined {
    if (this.state.deleted(type)?.has(id)) return undefined;
    const table = Dataset.tableOfType(type);
    const at = table === undefined ? undefined : this.locate(table, id);
    return (
      at &&
      this.model(table as string)
        .source(at.parent)
        .row(at.index)
    );
  }

  /**
   * Where a row of a table is: its index, and for a fan-out table its parent's. Tables that cannot decode an id
   * are indexed once per state version (they are small: the big ones, profiles and events, decode their ids).
   */
  locate(table: string, id: string): { parent: number; index: number } | undefined {
    const model = this.model(table);
    if (!getTable(table).parent && model.indexOfId) {
      const index = model.indexOfId(id);
      return index === undefined ? undefined : { parent: 0, index };
    }
    const rows = this.cached(`ids:${table}`, () => {
      const out = new Map<string, { parent: number; index: number }>();
      const parents = getTable(table).parent && model.parents ? [...model.parents()].map((p) => p.index) : [0];
      for (const parent of parents) {
        const source = model.source(parent);
        for (let index = 0; index < source.count; index++) out.set(source.row(index).id, { parent, index });
      }
      return out;
    });
    return rows.get(id);
  }

  /** A campaign's recipient estimation (`/api/campaign-recipient-estimations/{id}`); undefined for no campaign. */
  recipientEstimation(campaignId: string): Resource | undefined {
    const campaign = this.locate('campaigns', campaignId);
    if (!campaign) return undefined;
    const audiences = this.campaigns.row(campaign.index).attributes?.audiences as { included: string[] };
    let count = 0;
    for (const listId of audiences.included) {
      const list = this.locate('lists', listId);
      if (list) count += this.groups.memberCount('list', list.index);
    }
    return { type: 'campaign-recipient-estimation', id: campaignId, attributes: { estimated_recipient_count: count } };
  }

  /**
   * The ids a complete read of a table yields. Fan-out tables give `<parentId>:<id>` (a row of
   * /api/lists/{id}/profiles is "<list id>:<profile id>"), because the same id can appear under several parents.
   */
  *expectedIds(table: string): Iterable<string> {
    const model = this.model(table);
    const entry = getTable(table);
    // Deleted rows, and the rows of deleted parents, are left out (see deletions.ts).
    const hidden = this.state.deleted(entry.resourceType);
    if (entry.parent) {
      if (!model.parents) throw new Error(`Fan-out table "${table}" cannot list its parents`);
      const hiddenParents = this.state.deleted(getTable(entry.parent.table).resourceType);
      for (const parent of model.parents()) {
        if (hiddenParents?.has(parent.id)) continue;
        const source = model.source(parent.index);
        for (let i = 0; i < source.count; i++) {
          const id = source.row(i).id;
          if (!hidden?.has(id)) yield `${parent.id}:${id}`;
        }
      }
      return;
    }
    if (model.ids) {
      if (!hidden) yield* model.ids();
      else for (const id of model.ids()) if (!hidden.has(id)) yield id;
      return;
    }
    const source = model.source(0);
    for (let i = 0; i < source.count; i++) {
      const id = source.row(i).id;
      if (!hidden?.has(id)) yield id;
    }
  }

  expectedCount(table: string): number {
    const model = this.model(table);
    if (this.state.hasDeletions) {
      let count = 0;
      const ids = this.expectedIds(table)[Symbol.iterator]();
      while (!ids.next().done) count++;
      return count;
    }
    if (!getTable(table).parent) return model.source(0).count;
    if (!model.parents) throw new Error(`Fan-out table "${table}" cannot list its parents`);
    let total = 0;
    for (const parent of model.parents()) total += model.source(parent.index).count;
    return total;
  }
}
