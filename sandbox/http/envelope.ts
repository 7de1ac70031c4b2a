import type { CatalogTable } from '../../klaviyo/catalog';
import { isLazy, type Resource, type ResourceRef } from '../data/row';
import type { ListRequest } from './list-request';
import { collectionPath } from './routes';

export interface EnvelopeInput {
  baseUrl: string;
  table: CatalogTable;
  request: ListRequest;
  rows: Resource[];
  selfUrl: string;
  nextUrl: string | null;
}

/**
 * The JSON:API document of a list answer: `data` (sparse fieldsets and additional fields applied, relationships
 * with links), `links.self`/`links.next` (absolute) and `included` de-duplicated by type and id.
 */
export function buildEnvelope(input: EnvelopeInput): string {
  const { table, request } = input;
  const include = new Set(request.include);
  const data = input.rows.map((row) =>
    table.idsOnly
      ? { type: row.type, id: row.id }
      : serialize(row, input.baseUrl, request.fields.get(row.type), request.additionalFields, include),
  );
  const links: Record<string, string> = { self: input.selfUrl };
  if (input.nextUrl) links.next = input.nextUrl;
  const document: Record<string, unknown> = { data, links };
  if (include.size > 0 && !table.idsOnly) document.included = includedOf(input.rows, include, input.baseUrl, request);
  return JSON.stringify(document);
}

export interface ObjectDocumentInput {
  baseUrl: string;
  request: ListRequest;
  resource: Resource;
  selfUrl: string;
}

/** The JSON:API document of a single-object GET: `data` is the resource itself, `links.self` the request's URL. */
export function buildObjectDocument(input: ObjectDocumentInput): string {
  const { request, resource } = input;
  const include = new Set(request.include);
  const data = serialize(resource, input.baseUrl, request.fields.get(resource.type), request.additionalFields, include);
  const document: Record<string, unknown> = { data, links: { self: input.selfUrl } };
  if (include.size > 0) document.included = includedOf([resource], include, input.baseUrl, request);
  return JSON.stringify(document);
}

/** The related resources the rows `include`, de-duplicated by type and id. */
function includedOf(rows: Resource[], include: Set<string>, baseUrl: string, request: ListRequest): unknown[] {
  const included = new Map<string, unknown>();
  for (const row of rows) {
    for (const name of include) {
      for (const ref of refsOf(row, name)) {
        const key = `${ref.type}\u0000${ref.id}`;
        if (included.has(key) || !ref.load) continue;
        included.set(key, serialize(ref.load(), baseUrl, request.fields.get(ref.type), [], new Set()));
      }
    }
  }
  return [...included.values()];
}

function refsOf(resource: Resource, relationship: string): ResourceRef[] {
  const value = resource.relationships?.[relationship];
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  if (isLazy(value)) return value.lazy();
  return [value];
}

function serialize(
  resource: Resource,
  baseUrl: string,
  fields: string[] | undefined,
  additional: string[],
  include: Set<string>,
): Record<string, unknown> {
  const self = `${baseUrl}/api/${collectionPath(resource.type)}/${encodeURIComponent(resource.id)}/`;
  const out: Record<string, unknown> = { type: resource.type, id: resource.id };
  if (resource.attributes) {
    let attributes: Record<string, unknown> = resource.attributes;
    if (additional.length > 0 && resource.additional) {
      attributes = { ...attributes };
      for (const name of additional) if (name in resource.additional) attributes[name] = resource.additional[name];
    }
    out.attributes = fields ? sparse(attributes, fields) : attributes;
  }
  if (resource.relationships) {
    const relationships: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(resource.relationships)) {
      const links = { self: `${self}relationships/${name}/`, related: `${self}${name}/` };
      if (value === null) relationships[name] = { data: null, links };
      else if (Array.isArray(value)) relationships[name] = { data: value.map(pointer), links };
      else if (isLazy(value))
        relationships[name] = include.has(name) ? { data: value.lazy().map(pointer), links } : { links };
      else relationships[name] = { data: pointer(value), links };
    }
    out.relationships = relationships;
  }
  out.links = { self };
  return out;
}

function pointer(ref: ResourceRef): { type: string; id: string } {
  return { type: ref.type, id: ref.id };
}

/** Keeps only the requested attributes; `a.b` keeps the nested path `a.b` of object `a`. */
function sparse(attributes: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (field === 'id') continue;
    const parts = field.split('.');
    if (!(parts[0] in attributes)) continue;
    if (parts.length === 1) {
      out[field] = attributes[field];
      continue;
    }
    copyPath(attributes, out, parts);
  }
  return out;
}

function copyPath(from: Record<string, unknown>, to: Record<string, unknown>, parts: string[]): void {
  const [head, ...rest] = parts;
  const value = from[head];
  if (rest.length === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (head in from) to[head] = value;
    return;
  }
  const existing = to[head];
  const target = existing && typeof existing === 'object' ? (existing as Record<string, unknown>) : {};
  to[head] = target;
  copyPath(value as Record<string, unknown>, target, rest);
}
