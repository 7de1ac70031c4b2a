/** Connect: proving a key against Klaviyo and finding what it can read; and the name rule of a new dataflow. */
import { CATALOG, SELECTABLE_TABLES, slowTierFields, type CatalogTable } from '../../klaviyo/catalog';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import { readKlaviyoRateLimits } from '../../klaviyo/rate-limit-setting';
import { missingScopes } from '../../klaviyo/scope-probe';
import { validateDataflowName } from '../../control-plane/dataflow-name';
import { apiKeyHint, maskApiKey, validateApiKeyFormat } from '../../secrets/api-key';
import { checkBaseUrl } from '../../control-plane/dataflow-input';
import { getDataflow } from '../../control-plane/dataflows';
import { DataflowExistsError, DataflowNotFoundError } from '../../control-plane/errors';
import { savedKey, type ApiContext } from './context';
import { selectionFor } from './selection';

/** What Connect finds: the account, and per catalog table whether the key can read it and its default fields. */
export interface Discovery {
  accountId: string;
  /** The key as a person may see it (`pk_…abcd`). */
  apiKeyMask: string;
  tables: Array<{
    table: CatalogTable;
    readable: boolean;
    /** The scopes the key lacks for this table (empty when readable). */
    missingScopes: string[];
    /** Fields that move the table to a slower rate tier ({@link slowTierFields}). */
    slowTierFields: string[];
    /** The fields a new dataflow selects by default. */
    defaultFields: string[];
  }>;
}

/**
 * Connect without saving: proves the key (and host) and tells, for every catalog table, whether the key can
 * read it (else the scopes it lacks) and which fields a new dataflow selects by default.
 */
export async function connect(apiKey: string, baseUrl?: string): Promise<Discovery> {
  const key = validateApiKeyFormat(apiKey);
  if (baseUrl !== undefined) checkBaseUrl(baseUrl);
  return { ...(await discovery(key, baseUrl)), apiKeyMask: maskApiKey({ hint: apiKeyHint(key) }) };
}

/** Connect for an edit: a new key or host when given, else the saved ones. */
export async function connectSaved(
  ctx: ApiContext,
  name: string,
  input: { apiKey?: string; baseUrl?: string } = {},
): Promise<Discovery> {
  const dataflow = await getDataflow(ctx.pool, name);
  if (input.baseUrl !== undefined) checkBaseUrl(input.baseUrl);
  if (input.apiKey !== undefined) return connect(input.apiKey, input.baseUrl ?? dataflow.baseUrl);
  const saved = await discovery(await savedKey(ctx, dataflow), input.baseUrl ?? dataflow.baseUrl);
  return { ...saved, apiKeyMask: maskApiKey({ hint: dataflow.apiKeyHint }) };
}

async function discovery(apiKey: string, baseUrl?: string): Promise<Omit<Discovery, 'apiKeyMask'>> {
  const { accountId, readable, missing } = await discover(apiKey, baseUrl);
  const defaults = new Map(selectionFor(readable).map((t) => [t.table, new Set(t.fields)]));
  return {
    accountId,
    tables: SELECTABLE_TABLES.map((table) => {
      const lacking = table.scopes.filter((s) => missing.has(s));
      const slow = new Set(slowTierFields(table));
      return {
        table,
        readable: lacking.length === 0,
        missingScopes: lacking,
        slowTierFields: [...slow],
        defaultFields: table.fields.map((f) => f.name).filter((f) => defaults.get(table.name)?.has(f) ?? !slow.has(f)),
      };
    }),
  };
}

/** The name rule and uniqueness (case-insensitive), as create applies them; returns the name to save. */
export async function checkNewName(ctx: ApiContext, input: string): Promise<string> {
  const name = validateDataflowName(input);
  await assertNameFree(ctx, name);
  return name;
}

async function assertNameFree(ctx: ApiContext, name: string): Promise<void> {
  try {
    const existing = await getDataflow(ctx.pool, name);
    throw new DataflowExistsError(existing.name);
  } catch (err) {
    if (!(err instanceof DataflowNotFoundError)) throw err;
  }
}

/** Proves the key and finds the tables it can read (a table is readable when every scope it needs is granted). */
export async function discover(
  apiKey: string,
  baseUrl?: string,
): Promise<{ accountId: string; readable: CatalogTable[]; missing: Set<string> }> {
  const client = new KlaviyoClient({ apiKey, baseUrl, rateLimits: readKlaviyoRateLimits() });
  try {
    const { missing, accountId } = await missingScopes(client, CATALOG);
    const readable = SELECTABLE_TABLES.filter((t) => t.scopes.every((s) => !missing.has(s)));
    return { accountId: accountId ?? client.accountKey, readable, missing };
  } finally {
    client.close();
  }
}
