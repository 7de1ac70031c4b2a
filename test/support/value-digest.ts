import crypto from 'node:crypto';
import type pg from 'pg';
import { findTable, KLAVIYO_REVISION } from '../../klaviyo/catalog';
import { warehouseSchemaName } from '../../control-plane/dataflow-name';
import { qualifiedName } from '../../warehouse/identifiers';

/**
 * Value-level comparison of one warehouse table with the sandbox. The expected side is read in this module
 * from the sandbox's own JSON answers over HTTP (not through the engine's client or mapping), both sides are
 * brought to one canonical form per column type, and each is hashed into a digest: equal digests mean every
 * row has the same values, not only the same id.
 */

/** The sandbox as this check reads it: over HTTP, with a key that can read every table. */
export interface SandboxSource {
  baseUrl: string;
  keys: { full: string };
  expectedCount(table: string): number | Promise<number>;
}

export interface TableDigest {
  rows: number;
  distinctIds: number;
  digest: string;
}

export interface ValueComparison {
  table: string;
  warehouse: TableDigest;
  sandbox: TableDigest;
  /** What the sandbox itself says a complete read yields: proves this module's own read is complete. */
  sandboxCount: number;
  /** Up to five ids whose rows differ, with the columns that differ. */
  differences: string[];
  /** Rows present on both sides whose values differ. */
  wrongRows: number;
  equal: boolean;
}

interface Resource {
  id: string;
  attributes?: Record<string, unknown> | null;
  relationships?: Record<string, { data?: unknown } | null> | null;
}

/** Postgres' stored form of a string (warehouse/copy-text.ts): NUL and lone surrogates become U+FFFD. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
function storedString(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

/** JSON with sorted keys and stored strings: the same text whichever side a value came from. */
function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (typeof v === 'string') return storedString(v);
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .map(([k, child]) => [storedString(k), sort(child)] as const)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

/** One value in a form both sides agree on, by the column's Postgres type; null for what cannot be stored. */
function canonical(type: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'jsonb':
      return canonicalJson(value);
    case 'numeric': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
      return typeof value === 'string' && value.trim() === '' ? null : Number.isFinite(n) ? String(n) : null;
    }
    case 'bigint': {
      const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
      return /^[+-]?\d+$/.test(text) ? BigInt(text).toString() : null;
    }
    case 'boolean':
      if (value === true || value === 1 || (typeof value === 'string' && value.trim().toLowerCase() === 'true')) {
        return 'true';
      }
      if (value === false || value === 0 || (typeof value === 'string' && value.trim().toLowerCase() === 'false')) {
        return 'false';
      }
      return null;
    case 'timestamp with time zone': {
      if (value instanceof Date) return value.toISOString();
      if (typeof value !== 'string') return null;
      // Without an offset Klaviyo means UTC; JavaScript would read a date-time without one as local time.
      const text = /(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$/.test(value) || !value.includes('T') ? value : `${value}Z`;
      const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
      return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
    }
    default:
      if (typeof value === 'string') return storedString(value);
      if (typeof value === 'object') return storedString(JSON.stringify(value));
      return String(value);
  }
}

interface Column {
  name: string;
  type: string;
}

/** The reader view's columns other than the system ones, in name order. */
async function columnsOf(pool: pg.Pool, schema: string, table: string): Promise<Column[]> {
  const { rows } = await pool.query<{ name: string; type: string }>(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = $2 AND column_name NOT IN ('_version', '_extracted_at')
     ORDER BY column_name`,
    [schema, table],
  );
  if (rows.length === 0) throw new Error(`No reader view ${schema}.${table}`);
  return rows;
}

function digestOf(rows: Map<string, string>, total: number): TableDigest {
  const hash = crypto.createHash('sha256');
  for (const id of [...rows.keys()].sort()) hash.update(`${id}\t${rows.get(id)}\n`);
  return { rows: total, distinctIds: rows.size, digest: hash.digest('hex') };
}

/** Every row of the reader view, canonical, keyed by id; plus count(*) and count(DISTINCT id) from Postgres. */
async function warehouseRows(pool: pg.Pool, schema: string, table: string, columns: Column[]) {
  const relation = qualifiedName(schema, table);
  const counts = await pool.query<{ n: string; ids: string }>(
    `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM ${relation}`,
  );
  const { rows } = await pool.query<Record<string, unknown>>(`SELECT * FROM ${relation}`);
  const byId = new Map<string, string>();
  for (const row of rows) byId.set(String(row.id), JSON.stringify(columns.map((c) => canonical(c.type, row[c.name]))));
  return { byId, rows: Number(counts.rows[0].n), distinctIds: Number(counts.rows[0].ids) };
}

/** Every resource of a top-level table, read page by page from the sandbox as any HTTP client would. */
async function sandboxResources(sandbox: SandboxSource, table: string, columns: Column[]): Promise<Resource[]> {
  const entry = findTable(table);
  if (!entry || entry.parent || entry.requiredFilter) {
    throw new Error(`The value check reads top-level tables without required filters; "${table}" is not one`);
  }
  const base = new URLSearchParams();
  if (entry.pageSize) base.set('page[size]', String(entry.pageSize.max));
  const additional = entry.additionalFields.filter((f) => columns.some((c) => c.name === f));
  if (additional.length > 0) base.set(`additional-fields[${entry.resourceType}]`, additional.join(','));
  const passes = [base];
  if (entry.hiddenUnlessFiltered) {
    // Archived campaigns and flows are listed only when asked for by filter: a complete read takes both passes.
    const hidden = new URLSearchParams(base);
    hidden.set('filter', `equals(${entry.hiddenUnlessFiltered.field},${entry.hiddenUnlessFiltered.value})`);
    passes.push(hidden);
  }
  const out: Resource[] = [];
  for (const params of passes) {
    let url: string | null = `${sandbox.baseUrl}${entry.path}?${params.toString()}`;
    while (url) {
      const body = await getJson(url, sandbox.keys.full);
      out.push(...body.data);
      url = entry.paged ? (body.links?.next ?? null) : null;
    }
  }
  return out;
}

/** A page, asked again while the sandbox answers with a fault or a 429 (a test may leave either on). */
async function getJson(url: string, key: string): Promise<{ data: Resource[]; links?: { next?: string | null } }> {
  let last = '';
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const response = await fetch(url, {
        headers: { Authorization: `Klaviyo-API-Key ${key}`, revision: KLAVIYO_REVISION },
      });
      const text = await response.text();
      if (response.status === 200) return JSON.parse(text) as { data: Resource[]; links?: { next?: string | null } };
      last = `HTTP ${response.status}`;
      const retryAfter = Number(response.headers.get('retry-after'));
      await new Promise((r) => setTimeout(r, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 200));
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`The sandbox did not answer ${url} (${last})`);
}

/** The value a column holds for a resource, read from the JSON:API document itself. */
function sourceValue(resource: Resource, column: Column): unknown {
  if (column.name === 'id') return resource.id;
  const attributes = resource.attributes ?? {};
  const field = Object.keys(attributes).find((f) => f.toLowerCase().replace(/[^a-z0-9_]/g, '_') === column.name);
  if (field !== undefined) return attributes[field];
  const relation = column.name.endsWith('_id') ? column.name.slice(0, -3) : null;
  if (relation !== null) {
    const name = Object.keys(resource.relationships ?? {}).find((r) => r.replace(/-/g, '_') === relation);
    const data = name === undefined ? undefined : resource.relationships?.[name]?.data;
    if (data && typeof data === 'object' && !Array.isArray(data)) return (data as { id?: unknown }).id ?? null;
  }
  return null;
}

/** Compares the values of `<dataflow>.<table>` with the sandbox's, row by row, through digests. */
export async function compareValues(
  pool: pg.Pool,
  sandbox: SandboxSource,
  dataflow: string,
  table: string,
): Promise<ValueComparison> {
  const schema = warehouseSchemaName(dataflow);
  const columns = await columnsOf(pool, schema, table);
  const stored = await warehouseRows(pool, schema, table, columns);
  const resources = await sandboxResources(sandbox, table, columns);
  const expected = new Map<string, string>();
  for (const r of resources)
    expected.set(r.id, JSON.stringify(columns.map((c) => canonical(c.type, sourceValue(r, c)))));
  const warehouse = digestOf(stored.byId, stored.rows);
  warehouse.distinctIds = stored.distinctIds;
  const fromSandbox = digestOf(expected, resources.length);
  const differences: string[] = [];
  let wrongRows = 0;
  for (const [id, want] of expected) {
    const got = stored.byId.get(id);
    if (got === undefined || got === want) continue;
    wrongRows += 1;
    if (differences.length < 5) {
      const [g, w] = [JSON.parse(got) as unknown[], JSON.parse(want) as unknown[]];
      differences.push(
        `${table} ${id}: ${columns
          .filter((_, i) => g[i] !== w[i])
          .map((c) => c.name)
          .join(', ')}`,
      );
    }
  }
  const sandboxCount = await sandbox.expectedCount(table);
  return {
    table,
    warehouse,
    sandbox: fromSandbox,
    sandboxCount,
    differences,
    wrongRows,
    equal:
      warehouse.digest === fromSandbox.digest &&
      warehouse.rows === fromSandbox.rows &&
      warehouse.distinctIds === fromSandbox.rows &&
      fromSandbox.rows === sandboxCount,
  };
}
