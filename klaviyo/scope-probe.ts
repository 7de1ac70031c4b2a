import { CATALOG, type CatalogTable } from './catalog';
import { isKlaviyoError, KlaviyoMissingScopeError } from './errors';
import type { KlaviyoClient } from './klaviyo-client';

/**
 * The scopes, among those `tables` need, that the key lacks. Each scope is probed once with the
 * cheapest read that needs only it; a scope with no such table is left to the extraction to report.
 */
export async function missingScopes(
  client: KlaviyoClient,
  tables: readonly CatalogTable[],
): Promise<{ missing: Set<string>; accountId: string | null }> {
  const missing = new Set<string>();
  const account = await client.getAccount().catch((err: unknown) => {
    // A valid key without accounts:read is fine here; any other failure (401 above all) is final.
    if (!(err instanceof KlaviyoMissingScopeError)) throw err;
    missing.add('accounts:read');
    return null;
  });
  const needed = new Set(tables.flatMap((t) => t.scopes));
  // The account call already answered for its scope (an XS-tier endpoint: 1/s, 15/min).
  needed.delete('accounts:read');
  for (const scope of needed) {
    const probe = CATALOG.find(
      (t) => t.scopes.length === 1 && t.scopes[0] === scope && !t.parent && t.requiredFilter?.kind !== 'parent',
    );
    if (!probe) continue;
    try {
      await client.firstPage({
        table: probe,
        parentId: probe.requiredFilter?.kind === 'channel' ? probe.requiredFilter.values[0] : undefined,
        pageSize: probe.pageSize ? probe.pageSize.min : undefined,
        fields: probe.idsOnly || probe.fields.length === 0 ? undefined : [probe.fields[0].name],
      });
    } catch (err) {
      if (isKlaviyoError(err) && err.type === 'KlaviyoMissingScope') missing.add(scope);
      else throw err;
    }
  }
  return { missing, accountId: account?.id ?? null };
}
