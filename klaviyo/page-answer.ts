import { bytesOf, decodableAsBytes } from './byte-strings';
import type { CatalogTable } from './catalog';
import { KlaviyoMalformedResponseError, type KlaviyoError } from './errors';
import { tablePageCheck, type PageStrings } from './page-check';
import { tablePageSchema, type TablePageBody } from './schemas';

/** A page answer as the client passes it on: validated, its strings as text or (when asked) UTF-8 bytes. */
export type CheckedAnswer =
  { ok: true; body: TablePageBody; strings: PageStrings } | { ok: false; error: KlaviyoError };

/**
 * A raw 2xx answer parsed and validated as a page of `table`, or the malformed-response error it earns
 * (`tries`: the attempts so far and the last status, for the error). `redact` takes the API key out of
 * what the error quotes from the answer.
 */
export function checkAnswer(
  raw: Buffer,
  url: string,
  table: CatalogTable,
  tries: { sent: number; status: number },
  redact: (text: string) => string,
  byteStrings = false,
): CheckedAnswer {
  const page = parsePage(raw, table, byteStrings, redact);
  if (page.ok) return page;
  return {
    ok: false,
    error: new KlaviyoMalformedResponseError({
      table: table.name,
      url,
      attempts: tries.sent,
      status: tries.status,
      problem: page.problem,
    }),
  };
}

/** JSON of a POST's answer (a report), or the malformed-response problem of a body that is not JSON. */
export function parseJson(raw: Buffer): { ok: true; json: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, json: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { ok: false, problem: notJsonProblem(raw) };
  }
}

function parsePage(
  raw: Buffer,
  table: CatalogTable,
  byteStrings: boolean,
  redact: (text: string) => string,
): { ok: true; body: TablePageBody; strings: PageStrings } | { ok: false; problem: string } {
  if (byteStrings && decodableAsBytes(raw)) {
    // Byte strings are a shortcut only: a page they do not pass is judged (and worded) as text below.
    try {
      const json: unknown = JSON.parse(bytesOf(raw));
      if (tablePageCheck(table, 'bytes')(json)) return { ok: true, body: json as TablePageBody, strings: 'bytes' };
    } catch {
      // Judged below.
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return { ok: false, problem: notJsonProblem(raw) };
  }
  // The compiled check reads the page in place; zod (which copies) only words what it rejected.
  if (tablePageCheck(table)(json)) return { ok: true, body: json as TablePageBody, strings: 'text' };
  const parsed = tablePageSchema(table).safeParse(json);
  if (parsed.success) return { ok: true, body: parsed.data, strings: 'text' };
  const [first] = parsed.error.issues;
  const more = parsed.error.issues.length > 1 ? ` and ${parsed.error.issues.length - 1} more problem(s)` : '';
  const where = first.path.length > 0 ? `${first.path.join('.')}: ` : '';
  return { ok: false, problem: redact(`${where}${first.message}${more}`) };
}

function notJsonProblem(raw: Buffer): string {
  return raw.length === 0 ? 'the body is empty' : 'the body is not complete JSON';
}
