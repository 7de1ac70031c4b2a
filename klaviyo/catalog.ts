import { z } from 'zod';
import rawCatalog from './catalog-data.json';
import { REPORT_TABLES } from './report-catalog';

/**
 * The table catalog is data: one entry per importable Klaviyo list endpoint (revision 2026-07-15),
 * interpreted by one extraction engine and served by the sandbox. Nothing here does I/O.
 */

export const KLAVIYO_REVISION = '2026-07-15';

export const PURPOSES = ['Data', 'Metadata'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** Klaviyo's rate-limit tiers for GET endpoints: burst per second, steady per minute. */
export const RATE_TIERS = {
  XS: { burst: 1, steady: 15 },
  S: { burst: 3, steady: 60 },
  M: { burst: 10, steady: 150 },
  L: { burst: 75, steady: 750 },
  XL: { burst: 350, steady: 3500 },
  /** The Reporting API's POST endpoints (1/s, 2/min), which also count against a daily quota (report-quota.ts). */
  Reporting: { burst: 1, steady: 2 },
} as const;
export type RateTier = keyof typeof RATE_TIERS;

/** Warehouse column types a field maps to. */
export const COLUMN_TYPES = ['text', 'numeric', 'bigint', 'boolean', 'timestamptz', 'jsonb'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

const fieldSchema = z.object({
  name: z.string(),
  type: z.enum(COLUMN_TYPES),
  /** The type as Klaviyo's OpenAPI file states it, e.g. `string(date-time)|null`. */
  apiType: z.string(),
});

/**
 * A slower rate tier than the table's: a call is counted against it when its parameter `when.param` lists any of
 * `when.values` among its comma-separated values, e.g. `additional-fields[profile]=predictive_analytics`.
 */
const tierVariantSchema = z.object({
  when: z.object({ param: z.string().min(1), values: z.array(z.string().min(1)).min(1) }),
  burst: z.number(),
  steady: z.number(),
});

const tableSchema = z.object({
  name: z.string(),
  path: z.string(),
  resourceType: z.string(),
  purpose: z.enum(PURPOSES),
  /** Fan-out: the table is read once per row of `table`, its id substituted for `{param}` in the path. */
  parent: z.object({ table: z.string(), param: z.string() }).nullable(),
  /** Relationship endpoints return only `{type, id}`. */
  idsOnly: z.boolean(),
  /** Cursor-paginated (`links.next`); unpaged endpoints return everything at once. */
  paged: z.boolean(),
  /** `page[size]` bounds; null where the endpoint takes no size parameter. */
  pageSize: z.object({ default: z.number(), min: z.number(), max: z.number() }).nullable(),
  /** The change cursor for incremental refresh; null means always a full refresh. */
  incremental: z.object({ field: z.string(), operator: z.string() }).nullable(),
  /**
   * Rows that arrive late, dated in the past (Klaviyo's events: sometimes by days): an incremental refresh re-reads
   * this many hours before its watermark (DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS overrides it). null: none arrive late.
   */
  lateArrivalHours: z.number().nonnegative().nullable().default(null),
  /**
   * A filter Klaviyo requires: campaigns one pass per channel; coupon codes one pass per coupon id.
   */
  requiredFilter: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('channel'), field: z.string(), values: z.array(z.string()) }),
      z.object({ kind: z.literal('parent'), field: z.string(), table: z.string() }),
    ])
    .nullable(),
  /**
   * Rows Klaviyo leaves out of the listing unless the filter asks for them with `equals(<field>,<value>)`:
   * archived campaigns and flows. A complete read takes one more pass per part with that filter.
   */
  hiddenUnlessFiltered: z.object({ field: z.string(), value: z.boolean() }).nullable().default(null),
  /**
   * A creation time the listing can be both filtered and sorted by, so the table can be read as several time
   * ranges at once (extract-slices.ts). It must never change once set: a row whose value moved mid-read could
   * leave one range for another. null: read on one cursor.
   */
  slice: z.object({ field: z.string() }).nullable().default(null),
  tier: z.enum(['XS', 'S', 'M', 'L', 'XL', 'Reporting']),
  /** Slower tiers some parameters move a call to (e.g. profiles with predictive_analytics). */
  tierVariants: z.array(tierVariantSchema),
  scopes: z.array(z.string()),
  fields: z.array(fieldSchema),
  /** Fields Klaviyo returns only when asked with `additional-fields[<type>]`. */
  additionalFields: z.array(z.string()),
  relationships: z.array(z.object({ name: z.string(), type: z.string(), cardinality: z.enum(['to-one', 'to-many']) })),
  includes: z.array(z.string()),
  filters: z.record(z.object({ operators: z.array(z.string()), valueType: z.string() })),
  sorts: z.array(z.string()),
});

export type CatalogField = z.infer<typeof fieldSchema>;
export type TierVariant = z.infer<typeof tierVariantSchema>;
export type CatalogTable = z.infer<typeof tableSchema>;

export const CATALOG: readonly CatalogTable[] = Object.freeze(z.array(tableSchema).parse(rawCatalog));

/**
 * Every table a dataflow can select: the list endpoints above (which the sandbox serves as such) and the Reporting
 * API's tables (report-catalog.ts), which are read by POSTing report queries instead of paging a list.
 */
export const SELECTABLE_TABLES: readonly CatalogTable[] = Object.freeze([...CATALOG, ...REPORT_TABLES]);

const byName = new Map(SELECTABLE_TABLES.map((t) => [t.name, t]));

/** The catalog entry of a table, or undefined for a name the catalog does not know. */
export function findTable(name: string): CatalogTable | undefined {
  return byName.get(name);
}

/** The catalog entry of a table; throws for an unknown name. */
export function getTable(name: string): CatalogTable {
  const table = byName.get(name);
  if (!table)
    throw new Error(
      `Unknown Klaviyo table "${name}". Known tables: ${SELECTABLE_TABLES.map((t) => t.name).join(', ')}`,
    );
  return table;
}

/** Relationships that become `<rel>_id` columns: to-one only. */
export function toOneRelationships(table: CatalogTable): CatalogTable['relationships'] {
  return table.relationships.filter((r) => r.cardinality === 'to-one');
}

/** Whether a call with these query parameters is counted against `variant`'s slower tier. */
export function tierVariantApplies(variant: TierVariant, params: URLSearchParams): boolean {
  const given = params.getAll(variant.when.param).flatMap((v) => v.split(','));
  return given.some((v) => variant.when.values.includes(v));
}

/**
 * Fields whose selection moves a table to a slower rate tier: those a tier variant asks for, e.g.
 * `additional-fields[profile]=predictive_analytics` (profiles drop from tier L to M).
 */
export function slowTierFields(table: CatalogTable): string[] {
  const named = new Set(table.tierVariants.flatMap((v) => v.when.values));
  return table.fields.map((f) => f.name).filter((f) => named.has(f));
}
