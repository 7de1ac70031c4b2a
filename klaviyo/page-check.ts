import { bytesToText } from './byte-strings';
import type { CatalogTable } from './catalog';
import { splitAlternatives } from './schemas';

/**
 * The fast path of page validation: a predicate per table, compiled from the catalog, that accepts
 * exactly what `tablePageSchema(table)` accepts (see schemas.ts) but reads the parsed page in place.
 * zod builds a copy of every object it validates, which at a million rows cost as much CPU as parsing
 * the JSON; this allocates nothing. When it says no, the client runs the zod schema to word the
 * problem, so both the answer and the message stay zod's. test/klaviyo/page-check.test.ts holds the
 * two to agreement on valid pages and on thousands of broken ones.
 *
 * A page parsed as byte strings (see byte-strings.ts) gets the same checks, except that a date-time is
 * turned back into text before `Date.parse` reads it; every other check looks only at types and ASCII.
 */

/** How the strings of a parsed page hold their text: as characters, or as UTF-8 bytes (byte-strings.ts). */
export type PageStrings = 'text' | 'bytes';

type Check = (value: unknown) => boolean;

const anything: Check = () => true;
const isString: Check = (v) => typeof v === 'string';
const isNonEmptyString: Check = (v) => typeof v === 'string' && v.length > 0;
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isSafeInteger: Check = (v) => Number.isSafeInteger(v);
const isBoolean: Check = (v) => typeof v === 'boolean';
const isArray: Check = (v) => Array.isArray(v);
const isDateTime: Check = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isDateTimeBytes: Check = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(bytesToText(v)));

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);
const nullable =
  (check: Check): Check =>
  (v) =>
    v === null || check(v);
const anyOf =
  (checks: Check[]): Check =>
  (v) => {
    for (const check of checks) if (check(v)) return true;
    return false;
  };
const arrayOf =
  (item: Check): Check =>
  (v) => {
    if (!Array.isArray(v)) return false;
    for (const element of v) if (!item(element)) return false;
    return true;
  };
/** An object (not an array) whose listed members pass; other members are allowed, as zod's looseObject. */
const objectWith = (members: Record<string, Check>): Check => {
  const entries = Object.entries(members);
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const [key, check] of entries) if (!check(v[key])) return false;
    return true;
  };
};
const recordOf =
  (value: Check): Check =>
  (v) => {
    if (!isPlainObject(v)) return false;
    for (const key in v) if (Object.hasOwn(v, key) && !value(v[key])) return false;
    return true;
  };

const coordinate = optional(nullable(anyOf([isString, isNumber])));
const identifier = objectWith({ type: isNonEmptyString, id: isNonEmptyString });
const relationship = objectWith({ data: optional(anyOf([identifier, arrayOf(identifier), (v) => v === null])) });
const relationships = optional(recordOf(relationship));
const optionalObject = optional(isPlainObject);

const anyResource = objectWith({
  type: isNonEmptyString,
  id: isNonEmptyString,
  attributes: optionalObject,
  relationships,
  links: optionalObject,
});

const links = optional(
  objectWith({ self: optional(isString), next: optional(nullable(isString)), prev: optional(nullable(isString)) }),
);

function alternativeCheck(alternative: string, fieldName: string, strings: PageStrings): Check {
  if (alternative === 'string(date-time)') return strings === 'bytes' ? isDateTimeBytes : isDateTime;
  if (alternative === 'string' || alternative.startsWith('string(')) return isString;
  if (alternative.startsWith('enum(')) return isString;
  if (alternative === 'integer') return isSafeInteger;
  if (alternative === 'number') return isNumber;
  if (alternative === 'boolean') return isBoolean;
  if (alternative === 'object') {
    return fieldName === 'location' ? objectWith({ latitude: coordinate, longitude: coordinate }) : isPlainObject;
  }
  if (alternative.startsWith('array<') && alternative.endsWith('>')) {
    return arrayOf(apiTypeCheck(alternative.slice('array<'.length, -1), '', strings));
  }
  if (alternative === 'array') return isArray;
  return anything;
}

/** The predicate of an attribute's `apiType`, as `apiTypeSchema` in schemas.ts. */
export function apiTypeCheck(apiType: string, fieldName = '', strings: PageStrings = 'text'): Check {
  const alternatives = splitAlternatives(apiType);
  const types = alternatives.filter((a) => a !== 'null').map((a) => alternativeCheck(a, fieldName, strings));
  let check: Check = types.length === 0 ? (v) => v === null : types.length === 1 ? types[0] : anyOf(types);
  if (fieldName === 'latitude' || fieldName === 'longitude') check = anyOf([check, isString, isNumber]);
  return alternatives.includes('null') ? nullable(check) : check;
}

const pageChecks = new Map<string, Check>();

/** Whether a parsed body is a valid page of `table` (cached per table and kind of strings). */
export function tablePageCheck(table: CatalogTable, strings: PageStrings = 'text'): Check {
  const cacheKey = `${strings}:${table.name}`;
  const cached = pageChecks.get(cacheKey);
  if (cached) return cached;
  const attributes = table.idsOnly
    ? optionalObject
    : optional(
        objectWith(
          Object.fromEntries(
            table.fields.map((field) => [field.name, optional(apiTypeCheck(field.apiType, field.name, strings))]),
          ),
        ),
      );
  const resource = objectWith({
    type: (v) => v === table.resourceType,
    id: isNonEmptyString,
    attributes,
    relationships,
    links: optionalObject,
  });
  const check = objectWith({
    data: arrayOf(resource),
    included: optional(arrayOf(anyResource)),
    links,
    meta: optionalObject,
  });
  pageChecks.set(cacheKey, check);
  return check;
}
