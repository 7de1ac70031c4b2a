import { shortId } from '../ids';
import { hash32, RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Condition, Resource, ResourceRef, RowSource } from './row';
import { allRows, keyLookup, rowSource, type TableModel } from './table-model';
import { DAY, HOUR, isoSeconds } from './values';

const STRIDES = [1, 2, 3, 4, 5, 7, 10, 16, 25, 50] as const;
const GROUP_KINDS = ['list', 'segment'] as const;
type GroupKind = (typeof GROUP_KINDS)[number];

const LIST_NAMES = [
  'Newsletter',
  'VIP 💎',
  'Back-in-stock "alerts"',
  'Clientes España',
  'Früh-Bucher',
  'SMS only',
] as const;
const SEGMENT_NAMES = ['Engaged 30d', 'Lapsed buyers', 'High "CLV"', 'Nouveaux clients', 'Never opened 📭'] as const;

/**
 * Lists and segments. Membership is arithmetic: group g holds profiles offset, offset+stride, ... so member j of a
 * group is profile `offset + j*stride` (O(1) paging, no membership table) and joined_group_at grows with j.
 * The last group of each kind is empty, an edge a loader must handle.
 */
export class Groups {
  constructor(private readonly ds: Dataset) {}

  count(kind: GroupKind): number {
    return kind === 'list' ? this.ds.sizes.lists : this.ds.sizes.segments;
  }

  id(kind: GroupKind, index: number): string {
    return shortId(this.ds.seed, kind, index);
  }

  private layout(kind: GroupKind, index: number): { stride: number; offset: number; members: number; delay: number } {
    const profiles = this.ds.profiles.count;
    const h = hash32(this.ds.seed, saltOf(kind + '-members'), index);
    const stride = STRIDES[h % STRIDES.length];
    const offset = (h >>> 8) % stride;
    const empty = index === this.count(kind) - 1 && this.count(kind) >= 3;
    const members = empty || profiles <= offset ? 0 : Math.ceil((profiles - offset) / stride);
    return { stride, offset, members, delay: ((index % 20) + 1) * HOUR };
  }

  ref(kind: GroupKind, index: number): ResourceRef {
    return { type: kind, id: this.id(kind, index), load: () => this.row(kind, index) };
  }

  row(kind: GroupKind, index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf(kind), index);
    const created = this.ds.state.startSec - 600 * DAY + index * 3 * DAY;
    const names = kind === 'list' ? LIST_NAMES : SEGMENT_NAMES;
    const name = `${names[index % names.length]} ${index}`;
    const updated = isoSeconds(created + r.int(200 * DAY));
    // Attributes in the catalog's order for each type.
    const attributes: Record<string, unknown> =
      kind === 'list'
        ? {
            name,
            created: isoSeconds(created),
            updated,
            opt_in_process: r.pick(['single_opt_in', 'double_opt_in', null]),
          }
        : {
            name,
            definition: {
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
            created: isoSeconds(created),
            updated,
            is_active: r.chance(0.8),
            is_processing: r.chance(0.1),
            is_starred: r.chance(0.3),
          };
    return {
      type: kind,
      id: this.id(kind, index),
      attributes,
      // Only the single-object GET offers it (`additional-fields[list]=profile_count`).
      additional: { profile_count: this.memberCount(kind, index) },
      relationships: {
        profiles: { lazy: () => [] },
        tags: this.ds.tags.tagsOf(kind, index),
        'flow-triggers': { lazy: () => (kind === 'list' ? this.ds.flows.flowsTriggeredByList(index) : []) },
      },
    };
  }

  memberCount(kind: GroupKind, index: number): number {
    return this.layout(kind, index).members;
  }

  /** The groups of one kind a profile belongs to. */
  groupsOfProfile(kind: GroupKind, profile: number): ResourceRef[] {
    const out: ResourceRef[] = [];
    for (let g = 0; g < this.count(kind); g++) {
      const { stride, offset, members } = this.layout(kind, g);
      if (members > 0 && profile >= offset && (profile - offset) % stride === 0) out.push(this.ref(kind, g));
    }
    return out;
  }

  listsOfProfile(profile: number): ResourceRef[] {
    return this.groupsOfProfile('list', profile);
  }

  segmentsOfProfile(profile: number): ResourceRef[] {
    return this.groupsOfProfile('segment', profile);
  }

  /** Members of one group: full profiles plus `joined_group_at`, in joining order. */
  membersSource(kind: GroupKind, group: number): RowSource {
    const { stride, offset, members, delay } = this.layout(kind, group);
    const profiles = this.ds.profiles;
    const profileOf = (j: number) => offset + j * stride;
    const joined = (j: number) => profiles.createdSec(profileOf(j)) + delay;
    return rowSource(
      members,
      (j) => {
        const profile = profiles.row(profileOf(j));
        const attributes = { ...profile.attributes, joined_group_at: isoSeconds(joined(j)) };
        const relationships = { ...profile.relationships };
        delete relationships.conversations;
        return { ...profile, attributes, relationships };
      },
      {
        key: keyLookup({
          joined_group_at: joined,
          email: (j) => profiles.email(profileOf(j)),
          phone_number: (j) => profiles.phone(profileOf(j)),
          profile_id: (j) => profiles.id(profileOf(j)),
        }),
        monotone: new Set(['joined_group_at']),
        predicate: (c: Condition) => {
          const test = profiles.idPredicate({ ...c, field: 'id' }, 'id');
          return c.field === 'profile_id' && test ? (j) => test(profileOf(j)) : undefined;
        },
      },
    );
  }

  models(): Record<string, TableModel> {
    const out: Record<string, TableModel> = {};
    for (const kind of GROUP_KINDS) {
      const plural = `${kind}s`;
      const groups = () => this.ds.cached(plural, () => rowSource(this.count(kind), (i) => this.row(kind, i)));
      out[plural] = { source: groups };
      out[`${kind}_memberships`] = {
        source: (group) => this.ds.cached(`${kind}_memberships:${group}`, () => this.membersSource(kind, group)),
        parents: () => allRows(groups()),
      };
    }
    return out;
  }
}
