import { CATALOG, getTable, type CatalogTable, type TierVariant } from '../../klaviyo/catalog';
import { ONE_PIECE_READING } from '../../klaviyo/one-piece-reading';
import { Dataset } from '../data/dataset';
import { collectionPath } from './routes';

/**
 * Klaviyo's single-object GETs (`GET /api/<collection>/{id}`) of every resource type the catalog lists, and the
 * read-only object endpoints clients commonly call besides (Airbyte's connector reads campaign recipient estimations).
 * Their rate tiers, includes and additional fields differ from the list endpoints'; the values are those of
 * Klaviyo's public OpenAPI description (github.com/klaviyo/openapi, revision 2026-07-15).
 */
export interface ObjectRoute {
  /** The resource type served, e.g. `list`. */
  type: string;
  /** e.g. `/api/lists/{id}`. */
  path: string;
  burst: number;
  steady: number;
  /** Slower tiers some parameters select (`additional-fields[list]` with `profile_count`: 1/s · 15/m). */
  tierVariants: TierVariant[];
  scopes: string[];
  includes: string[];
  additionalFields: string[];
  /** Attributes only this GET serves, always (a form's `definition`). */
  objectFields: string[];
}

interface Spec {
  tier: [number, number];
  includes?: string[];
  additionalFields?: string[];
  objectFields?: string[];
  variants?: TierVariant[];
}

const XS: [number, number] = [1, 15];
const S: [number, number] = [3, 60];
const M: [number, number] = [10, 150];
const L: [number, number] = [75, 750];
const XL: [number, number] = [350, 3500];
const SLOWEST = { burst: 1, steady: 15 };

/** Per resource type: what its single-object GET differs in. Includes default to none, like the spec's. */
const SPECS: Record<string, Spec> = {
  account: { tier: XS },
  profile: {
    tier: L,
    includes: ['conversations', 'lists', 'push-tokens', 'segments'],
    additionalFields: ['subscriptions', 'predictive_analytics'],
    variants: [
      { when: { param: 'additional-fields[profile]', values: ['predictive_analytics'] }, burst: 10, steady: 150 },
      { when: { param: 'include', values: ['lists'] }, ...SLOWEST },
      { when: { param: 'include', values: ['segments'] }, ...SLOWEST },
    ],
  },
  event: { tier: M, includes: ['attributions', 'metric', 'profile'] },
  metric: { tier: M, includes: ['flow-triggers'] },
  'metric-property': { tier: XS, includes: ['metric'], additionalFields: ['sample_values'] },
  'custom-metric': { tier: S, includes: ['metrics'] },
  'mapped-metric': { tier: S, includes: ['custom-metric', 'metric'] },
  list: {
    tier: L,
    includes: ['flow-triggers', 'tags'],
    additionalFields: ['profile_count'],
    variants: [{ when: { param: 'additional-fields[list]', values: ['profile_count'] }, ...SLOWEST }],
  },
  segment: {
    tier: L,
    includes: ['flow-triggers', 'tags'],
    additionalFields: ['profile_count'],
    variants: [{ when: { param: 'additional-fields[segment]', values: ['profile_count'] }, ...SLOWEST }],
  },
  campaign: { tier: M, includes: ['campaign-messages', 'tags'] },
  'campaign-message': { tier: M, includes: ['campaign', 'image', 'template'] },
  flow: { tier: S, includes: ['flow-actions', 'tags'] },
  'flow-action': { tier: S, includes: ['flow', 'flow-messages'] },
  'flow-message': { tier: S, includes: ['flow-action', 'template'] },
  template: { tier: L, additionalFields: ['definition'] },
  'template-universal-content': { tier: L },
  tag: { tier: S, includes: ['tag-group'] },
  'tag-group': { tier: S },
  coupon: { tier: L },
  'coupon-code': { tier: XL, includes: ['coupon'] },
  'catalog-item': { tier: XL, includes: ['variants'] },
  'catalog-variant': { tier: XL },
  'catalog-category': { tier: XL },
  image: { tier: M },
  form: { tier: S, objectFields: ['definition'] },
  'form-version': { tier: S, includes: ['form'] },
  review: { tier: M, includes: ['events'] },
  'push-token': { tier: M, includes: ['profile'] },
  webhook: { tier: XS, includes: ['webhook-topics'] },
  'webhook-topic': { tier: XS },
  'data-source': { tier: S },
  'object-type': { tier: S, includes: ['current-schema', 'draft-schema'] },
  'object-record': { tier: S },
  'tracking-setting': { tier: M },
  'web-feed': { tier: XS },
};

function tableOfType(type: string): CatalogTable | undefined {
  const name = Dataset.tableOfType(type);
  return name === undefined ? undefined : getTable(name);
}

function route(type: string, spec: Spec): ObjectRoute {
  const table = tableOfType(type);
  if (!table) throw new Error(`No catalog table serves resources of type "${type}"`);
  return {
    type,
    path: `/api/${collectionPath(type)}/{id}`,
    burst: spec.tier[0],
    steady: spec.tier[1],
    tierVariants: spec.variants ?? [],
    scopes: table.scopes,
    includes: spec.includes ?? [],
    additionalFields: spec.additionalFields ?? [],
    objectFields: spec.objectFields ?? [],
  };
}

export const RECIPIENT_ESTIMATION_TYPE = 'campaign-recipient-estimation';

export const OBJECT_ROUTES: readonly ObjectRoute[] = Object.freeze([
  ...Object.entries(SPECS).map(([type, spec]) => route(type, spec)),
  {
    type: RECIPIENT_ESTIMATION_TYPE,
    path: '/api/campaign-recipient-estimations/{id}',
    burst: M[0],
    steady: M[1],
    tierVariants: [],
    scopes: ['campaigns:read'],
    includes: [],
    additionalFields: [],
    objectFields: [],
  },
]);

/**
 * The catalog table a request to an object route is checked against: the type's table, with the object route's
 * includes and additional fields, no paging, filters nor sorts, and the additional fields as sparse fields.
 */
export function objectRequestTable(route: ObjectRoute): CatalogTable {
  const base: CatalogTable =
    route.type === RECIPIENT_ESTIMATION_TYPE
      ? {
          ...CATALOG[0],
          name: 'campaign_recipient_estimations',
          resourceType: RECIPIENT_ESTIMATION_TYPE,
          fields: [{ name: 'estimated_recipient_count', type: 'bigint', apiType: 'integer' }],
          relationships: [],
          scopes: route.scopes,
        }
      : (tableOfType(route.type) as CatalogTable);
  const known = new Set(base.fields.map((f) => f.name));
  const extra = [...route.additionalFields, ...route.objectFields]
    .filter((name) => !known.has(name))
    .map((name) => ({ name, type: 'jsonb' as const, apiType: 'object' }));
  return {
    ...base,
    ...ONE_PIECE_READING,
    path: route.path,
    tierVariants: route.tierVariants,
    fields: [...base.fields, ...extra],
    additionalFields: route.additionalFields,
    includes: route.includes,
  };
}

const PATTERNS = OBJECT_ROUTES.map((r) => ({
  route: r,
  pattern: new RegExp('^' + r.path.replace('{id}', '([^/]+)') + '/?$'),
}));

/** The object route a path asks for, with its id decoded; null when the path is no object route. */
export function matchObjectRoute(pathname: string): { route: ObjectRoute; id: string } | null {
  for (const { route: candidate, pattern } of PATTERNS) {
    const match = pattern.exec(pathname);
    if (!match) continue;
    try {
      return { route: candidate, id: decodeURIComponent(match[1]) };
    } catch {
      return null;
    }
  }
  return null;
}
