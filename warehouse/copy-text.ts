import type { ColumnType } from '../klaviyo/catalog';

/**
 * Encoding of rows for `COPY ... FROM STDIN` in Postgres' text format: fields separated by tabs,
 * rows by newlines, `\N` for NULL, and backslash, tab, newline and carriage return escaped with a
 * backslash. Everything else (quotes, `$`, emoji, any Unicode) passes through as UTF-8.
 *
 * U+0000: Postgres text and jsonb cannot hold it. It is replaced with U+FFFD (the replacement
 * character) in text, and the JSON escape `\u0000` likewise becomes `\ufffd` in jsonb, so one bad
 * character marks its place instead of failing the whole load. Unpaired UTF-16 surrogates (not
 * Unicode) become U+FFFD the same way: in jsonb here, in text by Node's UTF-8 encoder.
 */

/** What a cell may hold; the column's type decides how it is written (see {@link encodeCell}). */
export type Cell = string | number | bigint | boolean | null | undefined | object;

export const COPY_NULL = '\\N';

const NEEDS_ESCAPE = /[\\\t\n\r\u0000]/;
const ESCAPED_CHARS = /[\\\t\n\r\u0000]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\u0000': '\uFFFD' };
const escapeChar = (char: string): string => ESCAPES[char];

/** A string as one COPY text field (never `\N`: an empty string stays an empty string). */
export function escapeCopyText(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPED_CHARS, escapeChar) : value;
}

/**
 * JSON text Postgres' jsonb accepts: `JSON.stringify` output with the escapes jsonb rejects
 * (`\u0000` and unpaired surrogates `\ud800`-`\udfff`) replaced by `\ufffd`. Scans only when the
 * text has a `\u` escape at all, which JSON.stringify writes only for control characters and lone surrogates.
 */
export function jsonForPostgres(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) return 'null';
  let at = json.indexOf('\\u');
  if (at === -1) return json;
  let out = '';
  let copied = 0;
  while (at !== -1) {
    let backslashes = 0;
    for (let i = at - 1; i >= 0 && json.charCodeAt(i) === 92; i--) backslashes++;
    if (backslashes % 2 === 1) {
      // This backslash is itself escaped (`\\u...` is the text "\u..."), not the start of an escape.
      at = json.indexOf('\\u', at + 1);
      continue;
    }
    const hex = json.slice(at + 2, at + 6).toLowerCase();
    if (hex === '0000' || (hex >= 'd800' && hex <= 'dfff')) {
      out += `${json.slice(copied, at)}\\ufffd`;
      copied = at + 6;
    }
    at = json.indexOf('\\u', at + 6);
  }
  return copied === 0 ? json : out + json.slice(copied);
}

/** Column types a COPY target may have: the catalog's, plus `integer` for bookkeeping columns. */
export type CopyColumnType = ColumnType | 'integer';

type CellEncoder = (cell: Cell) => string;

const encodeText: CellEncoder = (cell) => {
  if (typeof cell === 'string') return escapeCopyText(cell);
  if (cell === null || cell === undefined) return COPY_NULL;
  if (typeof cell === 'object') return escapeCopyText(jsonForPostgres(cell));
  return String(cell);
};

const encodeNumber: CellEncoder = (cell) => {
  if (typeof cell === 'number') return Number.isFinite(cell) ? String(cell) : COPY_NULL;
  if (typeof cell === 'string') return escapeCopyText(cell);
  if (typeof cell === 'bigint') return String(cell);
  return COPY_NULL;
};

const encodeBoolean: CellEncoder = (cell) => {
  if (cell === true) return 't';
  if (cell === false) return 'f';
  if (typeof cell === 'string') return escapeCopyText(cell);
  return COPY_NULL;
};

const encodeTimestamp: CellEncoder = (cell) => {
  if (typeof cell === 'string') return escapeCopyText(cell);
  if (cell instanceof Date) return Number.isNaN(cell.getTime()) ? COPY_NULL : cell.toISOString();
  return COPY_NULL;
};

/**
 * JSON text needs only its backslashes doubled: JSON.stringify already writes tabs, newlines,
 * carriage returns and U+0000 as escapes, so no raw one is left. A plain replaceAll is far cheaper
 * than the general escape, and JSON with a quote or an escape in it is common.
 */
const encodeJson: CellEncoder = (cell) => {
  if (cell === null || cell === undefined) return COPY_NULL;
  const json = jsonForPostgres(cell);
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
};

const ENCODERS: Record<CopyColumnType, CellEncoder> = {
  text: encodeText,
  numeric: encodeNumber,
  bigint: encodeNumber,
  integer: encodeNumber,
  boolean: encodeBoolean,
  timestamptz: encodeTimestamp,
  jsonb: encodeJson,
};

/**
 * One cell as a COPY text field for a column of `type`. Whatever the cell holds, the result never
 * contains an unescaped tab, newline or backslash, so a value cannot shift or add columns or rows;
 * a value of the wrong kind for the type (e.g. an object for numeric) becomes NULL.
 */
export function encodeCell(type: CopyColumnType, cell: Cell): string {
  return ENCODERS[type](cell);
}

/**
 * Appends rows to COPY text with one encoder per column, chosen once. Plain string concatenation:
 * V8 builds ropes, so this is close to the cost of the characters themselves.
 */
export function createRowEncoder(types: readonly CopyColumnType[]): (rows: readonly (readonly Cell[])[]) => string {
  const encoders = types.map((type) => ENCODERS[type]);
  const width = encoders.length;
  if (width === 0) throw new RangeError('A COPY target needs at least one column.');
  return (rows) => {
    let text = '';
    for (const row of rows) {
      if (row.length !== width) {
        throw new RangeError(`A row has ${row.length} cells for ${width} columns.`);
      }
      text += encoders[0](row[0]);
      for (let i = 1; i < width; i++) text += `\t${encoders[i](row[i])}`;
      text += '\n';
    }
    return text;
  };
}
