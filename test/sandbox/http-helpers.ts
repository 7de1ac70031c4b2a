import { CATALOG } from '../../klaviyo/catalog';
import type { Sandbox } from '../../sandbox/server';

export const REVISION = '2026-07-15';

export interface Answer<T = JsonApiDocument> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body; undefined when it is not JSON. */
  body: T;
}

export interface JsonApiResource {
  type: string;
  id: string;
  attributes?: Record<string, unknown>;
  relationships?: Record<string, { data?: unknown; links?: Record<string, string> }>;
  links?: { self: string };
}

export interface JsonApiDocument {
  data: JsonApiResource[];
  links: { self: string; next?: string; prev?: string };
  included?: JsonApiResource[];
  errors?: {
    id: string;
    status: number;
    code: string;
    title: string;
    detail: string;
    source: Record<string, string>;
  }[];
}

/** GET with Klaviyo's headers; `key: null` sends no Authorization, `revision: null` no revision header. */
export async function get(
  sandbox: Sandbox,
  pathOrUrl: string,
  options: { key?: string | null; revision?: string | null; authorization?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Accept: 'application/vnd.api+json' };
  const key = options.key === undefined ? sandbox.keys.full : options.key;
  if (options.authorization !== undefined) headers.Authorization = options.authorization;
  else if (key !== null) headers.Authorization = `Klaviyo-API-Key ${key}`;
  const revision = options.revision === undefined ? REVISION : options.revision;
  if (revision !== null) headers.revision = revision;
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : sandbox.baseUrl + pathOrUrl;
  const response = await fetch(url, { headers });
  const text = await response.text();
  let body: JsonApiDocument;
  try {
    body = JSON.parse(text) as JsonApiDocument;
  } catch {
    body = undefined as unknown as JsonApiDocument;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** Follows `links.next` from a first page to the end; returns every row and the number of pages. */
export async function readAll(
  sandbox: Sandbox,
  path: string,
  key?: string,
): Promise<{ rows: JsonApiResource[]; pages: number; included: JsonApiResource[] }> {
  const rows: JsonApiResource[] = [];
  const included: JsonApiResource[] = [];
  let url: string | undefined = path;
  let pages = 0;
  while (url) {
    const answer = await get(sandbox, url, { key });
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status} on ${url}: ${answer.text.slice(0, 300)}`);
    rows.push(...answer.body.data);
    included.push(...(answer.body.included ?? []));
    pages += 1;
    url = answer.body.links.next;
  }
  return { rows, pages, included };
}

/** The first error object of an error answer. */
export function firstError(answer: Answer): NonNullable<JsonApiDocument['errors']>[number] {
  const error = answer.body?.errors?.[0];
  if (!error) throw new Error(`Expected an error body, got HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
  return error;
}

export async function collect(ids: AsyncIterable<string> | Iterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const id of ids) out.push(id);
  return out;
}

/**
 * A concrete path for a catalog table: fan-out tables under the first parent that has rows, campaigns and coupon
 * codes with their required filter.
 */
export async function tablePath(sandbox: Sandbox, name: string): Promise<string> {
  const table = CATALOG.find((t) => t.name === name)!;
  let path = table.path;
  if (table.parent) {
    // A parent that is itself a fan-out row (flow actions) is listed as "<grandparent>:<id>".
    const grandparent = CATALOG.find((t) => t.name === table.parent!.table)!.parent !== null;
    const parents = (await collect(sandbox.expectedIds(table.parent.table))).map((id) =>
      grandparent ? id.slice(id.indexOf(':') + 1) : id,
    );
    const children = await collect(sandbox.expectedIds(name));
    const parent = parents.find((p) => children.some((c) => c.startsWith(`${p}:`))) ?? parents[0];
    path = path.replace(/\{[^}]+\}/, encodeURIComponent(parent));
  }
  if (name === 'campaigns') path += "?filter=equals(messages.channel,'email')";
  if (name === 'coupon_codes') path += "?filter=equals(coupon.id,'10OFF')";
  return path;
}
