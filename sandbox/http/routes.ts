import { CATALOG, type CatalogTable } from '../../klaviyo/catalog';

export interface RouteMatch {
  table: CatalogTable;
  /** The `{id}` of a fan-out path, decoded. */
  parentId: string | null;
}

const ROUTES = CATALOG.map((table) => ({
  table,
  pattern: new RegExp('^' + table.path.replace(/\{[^}]+\}/g, '([^/]+)') + '$'),
}));

/** The catalog table a path serves, with or without a trailing slash (real Klaviyo accepts both). */
export function matchRoute(pathname: string): RouteMatch | null {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  for (const { table, pattern } of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    let parentId: string | null = null;
    if (match[1] !== undefined) {
      try {
        parentId = decodeURIComponent(match[1]);
      } catch {
        return null;
      }
    }
    return { table, parentId };
  }
  return null;
}

/** The collection path of a resource type, for `links.self` (`catalog-category` → `catalog-categories`). */
export function collectionPath(type: string): string {
  if (type === 'template-universal-content') return type;
  if (type.endsWith('y')) return type.slice(0, -1) + 'ies';
  return type + 's';
}
