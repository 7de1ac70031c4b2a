import type { Sandbox } from '../../sandbox/server';
import { REVISION, type Answer } from './http-helpers';

/** The body of a report request: `{data: {type, attributes}}`. */
export function reportBody(type: string, attributes: Record<string, unknown>): unknown {
  return { data: { type, attributes } };
}

/** POSTs a report body with Klaviyo's headers; `key: null` sends no Authorization. */
export async function postReport(
  sandbox: Sandbox,
  path: string,
  body: unknown,
  options: { key?: string | null; revision?: string | null; method?: string } = {},
): Promise<Answer<ReportDocument>> {
  const headers: Record<string, string> = {
    Accept: 'application/vnd.api+json',
    'Content-Type': 'application/vnd.api+json',
  };
  const key = options.key === undefined ? sandbox.keys.full : options.key;
  if (key !== null) headers.Authorization = `Klaviyo-API-Key ${key}`;
  const revision = options.revision === undefined ? REVISION : options.revision;
  if (revision !== null) headers.revision = revision;
  const method = options.method ?? 'POST';
  const response = await fetch(sandbox.baseUrl + path, {
    method,
    headers,
    body: method === 'GET' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: ReportDocument;
  try {
    parsed = JSON.parse(text) as ReportDocument;
  } catch {
    parsed = undefined as unknown as ReportDocument;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

export interface ReportDocument {
  data: {
    type: string;
    attributes: {
      results: { groupings: Record<string, string | null>; statistics: Record<string, number | number[]> }[];
      date_times?: string[];
    };
  };
  errors?: { status: number; code: string; detail: string; source: Record<string, string> }[];
}

/** The id of the account's metric with that name. */
export async function metricId(sandbox: Sandbox, name: string): Promise<string> {
  const response = await fetch(`${sandbox.baseUrl}/api/metrics`, {
    headers: { Authorization: `Klaviyo-API-Key ${sandbox.keys.full}`, revision: REVISION },
  });
  const body = (await response.json()) as { data: { id: string; attributes: { name: string } }[] };
  const metric = body.data.find((m) => m.attributes.name === name);
  if (!metric) throw new Error(`The sandbox has no metric named ${name}`);
  return metric.id;
}
