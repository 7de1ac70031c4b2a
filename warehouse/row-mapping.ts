import { bytesToText, textToBytes, valueBytesToText } from '../klaviyo/byte-strings';
import type { PageStrings } from '../klaviyo/page-check';
import type { Cell } from './copy-text';
import { InvalidRowError } from './errors';
import type { ColumnSpec, TableLayout } from './table-layout';
import { COERCIONS, type CoercionTally } from './value-coercion';

/** A JSON:API resource object as Klaviyo returns it in `data[]`. */
export interface JsonApiResource {
  type: string;
  id: string;
  attributes?: Record<string, unknown> | null;
  relationships?: Record<string, { data?: unknown } | null | undefined> | null;
}

/** What the extraction knows that the resource does not say: which pass it came from. */
export interface RowContext {
  /** The fan-out parent's id (e.g. the list of a list membership). */
  parentId?: string | null;
  /** The campaign channel the pass was filtered on. */
  channel?: string | null;
}

/** Maps one resource to the cells of `layout.columns`, in order. */
export type RowMapper = (resource: JsonApiResource, context?: RowContext, tally?: CoercionTally) => Cell[];

type CellReader = (resource: JsonApiResource, context: RowContext, tally: CoercionTally | undefined) => Cell;

/**
 * Compiles the mapping of a layout once; the result is a pure function, called per resource. Values
 * are coerced to the column types (see value-coercion.ts): one that cannot be is stored as null and
 * counted in `tally` under its column name. A missing id, parent id or channel throws an
 * {@link InvalidRowError}: they are keys, and a row without its key would be a wrong row.
 *
 * With `strings: 'bytes'` the resources come from a page parsed as byte strings (byte-strings.ts) and the
 * row's strings are bytes too, for COPY text written out as Latin-1: text and JSON pass through as they
 * are, a string a coercion reads is turned into text first (a numeric may be padded with U+00A0, which
 * trim removes), and the context's text is turned into bytes.
 */
export function createRowMapper(layout: TableLayout, strings: PageStrings = 'text'): RowMapper {
  const readers = layout.columns.map((column) => cellReader(layout.table, column, strings));
  const width = readers.length;
  const map: RowMapper = (resource, context = {}, tally) => {
    const row = new Array<Cell>(width);
    for (let i = 0; i < width; i++) row[i] = readers[i](resource, context, tally);
    return row;
  };
  if (strings === 'text') return map;
  const mapText = createRowMapper(layout);
  // A pass hands every row the same context object (never changed in place): converted once, not per row.
  let lastContext: RowContext | undefined;
  let byteContext: RowContext = {};
  return (resource, context = {}, tally) => {
    if (context !== lastContext) {
      lastContext = context;
      byteContext = {
        parentId: typeof context.parentId === 'string' ? textToBytes(context.parentId) : context.parentId,
        channel: typeof context.channel === 'string' ? textToBytes(context.channel) : context.channel,
      };
    }
    try {
      return map(resource, byteContext, tally);
    } catch (err) {
      // Say what is wrong in text: the same resource, mapped as text, fails the same way.
      if (err instanceof InvalidRowError) mapText(valueBytesToText(resource), context);
      throw err;
    }
  };
}

/** Maps one resource (compiling the layout each time: for tests and one-offs; use {@link createRowMapper} in loops). */
export function mapResource(
  layout: TableLayout,
  resource: JsonApiResource,
  context?: RowContext,
  tally?: CoercionTally,
): Cell[] {
  return createRowMapper(layout)(resource, context, tally);
}

/** Coercions that read a string's characters; the others (text, JSON) keep a string as it is. */
const READS_CHARACTERS = new Set(['numeric', 'bigint', 'boolean', 'timestamptz']);

function cellReader(table: string, column: ColumnSpec, strings: PageStrings): CellReader {
  const source = column.source;
  switch (source.kind) {
    case 'id':
      return (resource) => {
        if (typeof resource.id !== 'string' || resource.id.length === 0) {
          throw new InvalidRowError(`A "${resource.type}" resource of table "${table}" has no id.`);
        }
        return resource.id;
      };
    case 'parent':
      return (resource, context) => {
        const id = context.parentId ?? (source.relationship ? relatedId(resource, source.relationship) : null);
        if (!id) {
          throw new InvalidRowError(
            `Row ${JSON.stringify(resource.id)} of table "${table}" has no parent id for column "${column.name}".`,
          );
        }
        return id;
      };
    case 'channel':
      return (resource, context) => {
        if (!context.channel) {
          throw new InvalidRowError(`Row ${JSON.stringify(resource.id)} of table "${table}" has no channel.`);
        }
        return context.channel;
      };
    case 'relationship':
      return (resource) => relatedId(resource, source.relationship);
    case 'attribute': {
      const coerceText = COERCIONS[column.type];
      const coerce =
        strings === 'bytes' && READS_CHARACTERS.has(column.type)
          ? (value: unknown) => coerceText(typeof value === 'string' ? bytesToText(value) : value)
          : coerceText;
      const field = source.field;
      const name = column.name;
      return (resource, _context, tally) => {
        const value = resource.attributes?.[field];
        if (value === undefined || value === null) return null;
        const coerced = coerce(value);
        if (coerced === undefined) {
          if (tally) tally.set(name, (tally.get(name) ?? 0) + 1);
          return null;
        }
        return coerced as Cell;
      };
    }
  }
}

/** The id of a to-one relationship's `data`, or null when absent. */
function relatedId(resource: JsonApiResource, relationship: string): string | null {
  const data = resource.relationships?.[relationship]?.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  const id = (data as { id?: unknown }).id;
  return typeof id === 'string' ? id : null;
}
