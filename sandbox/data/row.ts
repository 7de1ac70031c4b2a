/**
 * The shapes generators hand to the query engine: JSON:API resources plus the hooks that let a big table answer
 * filters and sorts without building every row.
 */

export type Scalar = string | number | boolean | null;

/** Enough to write `{type, id}`; `load` builds the full resource when a request `include`s it. */
export interface ResourceRef {
  type: string;
  id: string;
  load?: () => Resource;
}

/** A to-many relationship Klaviyo only lists (`data`) when it is included; otherwise only its links are shown. */
export interface LazyRefs {
  lazy: () => ResourceRef[];
}

/** to-one: a ref or null; to-many: an array (always listed) or LazyRefs. */
export type RelationshipValue = ResourceRef | null | ResourceRef[] | LazyRefs;

export interface Resource {
  type: string;
  id: string;
  /** Omitted for resources that have none (webhook topics, relationship endpoints). */
  attributes?: Record<string, unknown>;
  /** Additional fields (`additional-fields[type]=...`), served only on request. */
  additional?: Record<string, unknown>;
  relationships?: Record<string, RelationshipValue>;
  /** What filters see for fields that are not attributes: `messages.channel`, `action_type`, `category.id`... */
  filterValues?: Record<string, Scalar | Scalar[]>;
}

export function isLazy(value: RelationshipValue): value is LazyRefs {
  return value !== null && !Array.isArray(value) && 'lazy' in value;
}

/** A sort or filter key; datetimes are epoch seconds so they compare as numbers. */
export type KeyFn = (index: number) => Scalar;

/** A parsed, validated filter condition (see query/filter.ts). */
export interface Condition {
  field: string;
  op: FilterOperator;
  /** Datetimes are epoch seconds; lists only for `any`. */
  value: Scalar | Scalar[];
  /** How values of the field compare. */
  kind: ValueKind;
}

export const FILTER_OPERATORS = [
  'equals',
  'any',
  'contains',
  'starts-with',
  'ends-with',
  'greater-than',
  'greater-or-equal',
  'less-than',
  'less-or-equal',
  'has',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

export const VALUE_KINDS = ['string', 'datetime', 'number', 'boolean', 'any'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

/** The rows of one table (or of one parent's slice of a fan-out table), addressed by index 0..count-1. */
export interface RowSource {
  readonly count: number;
  row(index: number): Resource;
  /** A cheap key for a field, when the source can compute it without building the row. */
  key?(field: string): KeyFn | undefined;
  /** Fields whose key never decreases as the index grows: sorting by them is the index order. */
  readonly monotone?: ReadonlySet<string>;
  /** A cheap test for a condition, when the source has one (e.g. `equals(profile_id, ...)` on events). */
  predicate?(condition: Condition): ((index: number) => boolean) | undefined;
  /** Ids of rows deleted from the account: pages skip them (indices stay as generated). */
  readonly hiddenIds?: ReadonlySet<string>;
}
