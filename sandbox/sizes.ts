/**
 * How much data the sandbox account holds. Rows are generated from (seed, index) on demand, so large numbers cost
 * time per request, not memory; the only per-row memory is a few typed arrays for sorting (8 bytes per row).
 */
export interface SandboxSizes {
  profiles: number;
  events: number;
  metrics: number;
  /** Upper bound; each metric gets between 1 and this many properties. */
  metricPropertiesPerMetric: number;
  customMetrics: number;
  /** At most the number of known mapping names (7). */
  mappedMetrics: number;
  lists: number;
  segments: number;
  campaigns: number;
  flows: number;
  /** Upper bound; each flow gets between 1 and this many actions. */
  flowActionsPerFlow: number;
  templates: number;
  universalContent: number;
  tags: number;
  tagGroups: number;
  coupons: number;
  /** Upper bound; one coupon in five has no codes at all. */
  couponCodesPerCoupon: number;
  catalogItems: number;
  catalogVariantsPerItem: number;
  catalogCategories: number;
  images: number;
  forms: number;
  formVersionsPerForm: number;
  reviews: number;
  pushTokens: number;
  webhooks: number;
  /** At most the number of known topics (12). */
  webhookTopics: number;
  dataSources: number;
  objectTypes: number;
  objectRecordsPerType: number;
  webFeeds: number;
}

export const DEFAULT_SIZES: SandboxSizes = Object.freeze({
  profiles: 1000,
  events: 10_000,
  metrics: 12,
  metricPropertiesPerMetric: 4,
  customMetrics: 3,
  mappedMetrics: 3,
  lists: 12,
  segments: 8,
  campaigns: 30,
  flows: 8,
  flowActionsPerFlow: 4,
  templates: 15,
  universalContent: 6,
  tags: 10,
  tagGroups: 3,
  coupons: 5,
  couponCodesPerCoupon: 40,
  catalogItems: 60,
  catalogVariantsPerItem: 3,
  catalogCategories: 6,
  images: 25,
  forms: 5,
  formVersionsPerForm: 2,
  reviews: 80,
  pushTokens: 150,
  webhooks: 3,
  webhookTopics: 12,
  dataSources: 2,
  objectTypes: 2,
  objectRecordsPerType: 30,
  webFeeds: 3,
});

export const SIZE_KEYS = Object.keys(DEFAULT_SIZES) as (keyof SandboxSizes)[];

/** Defaults overlaid with what was given; negative or fractional numbers are refused, not rounded. */
export function resolveSizes(sizes: Partial<SandboxSizes> | undefined): SandboxSizes {
  const out: SandboxSizes = { ...DEFAULT_SIZES };
  for (const [key, value] of Object.entries(sizes ?? {})) {
    if (!(SIZE_KEYS as string[]).includes(key)) throw new Error(`Unknown sandbox size "${key}"`);
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0) throw new Error(`Sandbox size "${key}" must be a non-negative integer`);
    out[key as keyof SandboxSizes] = value;
  }
  return out;
}
