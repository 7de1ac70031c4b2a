import { uuidLike } from '../ids';
import { hash32, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { allRows, rowSource, type TableModel } from './table-model';

const TAGGABLE = ['list', 'segment', 'campaign', 'flow'] as const;
type Taggable = (typeof TAGGABLE)[number];

const TAG_NAMES = ['holiday', 'Q4 "push"', 'évergreen', 'test\\draft', '🔥 hot', 'b2b', 'vip', 'retention'] as const;

/** Tags, tag groups and the tag ↔ list/segment/campaign/flow joins (a quarter of the pairs are tagged). */
export class Tags {
  constructor(private readonly ds: Dataset) {}

  private get count(): number {
    return this.ds.sizes.tags;
  }

  id(index: number): string {
    return uuidLike(this.ds.seed, 'tag', index);
  }

  groupId(index: number): string {
    return uuidLike(this.ds.seed, 'tag-group', index);
  }

  private tagged(tag: number, kind: Taggable, index: number): boolean {
    return hash32(this.ds.seed, saltOf('tagged-' + kind), tag, index) % 4 === 0;
  }

  private taggableCount(kind: Taggable): number {
    const s = this.ds.sizes;
    return { list: s.lists, segment: s.segments, campaign: s.campaigns, flow: s.flows }[kind];
  }

  private taggableRef(kind: Taggable, index: number): ResourceRef {
    switch (kind) {
      case 'list':
      case 'segment':
        return this.ds.groups.ref(kind, index);
      case 'campaign':
        return this.ds.campaigns.ref(index);
      case 'flow':
        return this.ds.flows.ref(index);
    }
  }

  /** The tags on one list/segment/campaign/flow. */
  tagsOf(kind: Taggable, index: number): ResourceRef[] {
    const out: ResourceRef[] = [];
    for (let t = 0; t < this.count; t++) if (this.tagged(t, kind, index)) out.push(this.ref(t));
    return out;
  }

  /** What one tag is on, of one kind. */
  taggedBy(tag: number, kind: Taggable): ResourceRef[] {
    const out: ResourceRef[] = [];
    for (let i = 0; i < this.taggableCount(kind); i++)
      if (this.tagged(tag, kind, i)) out.push(this.taggableRef(kind, i));
    return out;
  }

  ref(index: number): ResourceRef {
    return { type: 'tag', id: this.id(index), load: () => this.row(index) };
  }

  groupRef(index: number): ResourceRef {
    return { type: 'tag-group', id: this.groupId(index), load: () => this.groupRow(index) };
  }

  row(index: number): Resource {
    const groups = this.ds.sizes.tagGroups;
    return {
      type: 'tag',
      id: this.id(index),
      attributes: { name: `${TAG_NAMES[index % TAG_NAMES.length]} ${index}` },
      relationships: {
        'tag-group': groups > 0 ? this.groupRef(index % groups) : null,
        lists: { lazy: () => this.taggedBy(index, 'list') },
        segments: { lazy: () => this.taggedBy(index, 'segment') },
        campaigns: { lazy: () => this.taggedBy(index, 'campaign') },
        flows: { lazy: () => this.taggedBy(index, 'flow') },
      },
    };
  }

  groupRow(index: number): Resource {
    const tags: ResourceRef[] = [];
    for (let t = index; t < this.count; t += Math.max(1, this.ds.sizes.tagGroups)) tags.push(this.ref(t));
    return {
      type: 'tag-group',
      id: this.groupId(index),
      attributes: {
        name: index === 0 ? 'Default' : `Group ${index} ${['"Seasonal"', 'Région', '📦'][index % 3]}`,
        exclusive: index % 2 === 1,
        default: index === 0,
      },
      relationships: { tags: { lazy: () => tags } },
    };
  }

  models(): Record<string, TableModel> {
    const tags = () => this.ds.cached('tags', () => rowSource(this.count, (i) => this.row(i)));
    const joins: Record<string, TableModel> = {};
    for (const kind of TAGGABLE) {
      joins[`tag_${kind}s`] = {
        source: (tag) => {
          const refs = this.taggedBy(tag, kind);
          return rowSource(refs.length, (i) => ({ type: refs[i].type, id: refs[i].id }));
        },
        parents: () => allRows(tags()),
      };
    }
    return {
      tags: { source: tags },
      tag_groups: { source: () => rowSource(this.ds.sizes.tagGroups, (i) => this.groupRow(i)) },
      ...joins,
    };
  }
}
