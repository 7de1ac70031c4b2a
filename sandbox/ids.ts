import { hash32, mix32, RowRandom, saltOf, unmix32 } from './random';

/**
 * Ids shaped like Klaviyo's: profile ULIDs, 6-character list/metric/flow ids, UUID-like tag ids,
 * compound catalog ids, `pk_` keys. Each id is unique within its table by construction: the part that varies
 * is a bijection of the row index, never a bare random draw that could collide.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const HEX = '0123456789abcdef';

/** A non-negative integer in `digits`' base, fixed width (the high digits dropped past it). */
function fixedWidth(value: number, width: number, digits: string): string {
  let out = '';
  let v = value;
  for (let i = 0; i < width; i++) {
    out = digits[v % digits.length] + out;
    v = Math.floor(v / digits.length);
  }
  return out;
}

/** Fixed-width base-62 of a non-negative integer below 62^width. */
function base62(value: number, width: number): string {
  return fixedWidth(value, width, BASE62);
}

/**
 * A 6-character base-62 id unique per (salt, index) for index < 2^32: 62^6 > 2^32 and mix32 is a bijection.
 * Used for lists, segments, metrics, flows, templates, forms (Klaviyo's `Y6nRLr` shape).
 */
export function shortId(seed: number, table: string, index: number): string {
  return base62(mix32((index ^ hash32(seed, saltOf(table))) >>> 0), 6);
}

/** The index a `shortId` of a table encodes, or undefined when the text is no 6-character base-62 id. */
export function shortIdIndex(seed: number, table: string, id: string): number | undefined {
  if (!/^[0-9A-Za-z]{6}$/.test(id)) return undefined;
  let value = 0;
  for (const char of id) value = value * 62 + BASE62.indexOf(char);
  if (value > 0xffffffff) return undefined;
  return (unmix32(value) ^ hash32(seed, saltOf(table))) >>> 0;
}

/** An 11-character event id: 5 decorative characters, then the unique 6. */
export function eventId(seed: number, ordinal: number): string {
  const decoration = hash32(seed, saltOf('event-id'), ordinal) % 916132832; // 62^5
  return base62(decoration, 5) + shortId(seed, 'event', ordinal);
}

/** The ordinal an event id encodes, or undefined when it is not one of `eventId`'s shape. */
export function eventOrdinal(seed: number, id: string): number | undefined {
  if (id.length !== 11) return undefined;
  const ordinal = shortIdIndex(seed, 'event', id.slice(5));
  return ordinal !== undefined && eventId(seed, ordinal) === id ? ordinal : undefined;
}

/** Crockford base-32, fixed width, of a non-negative integer (up to 2^53). */
function crockford(value: number, width: number): string {
  return fixedWidth(value, width, CROCKFORD);
}

/**
 * A ULID: 10 characters of millisecond time, then 16 of "randomness" whose first 7 encode a bijection of the index,
 * so ids are unique and, when `timeMs` grows with the index, sort like the index.
 */
export function ulid(seed: number, table: string, index: number, timeMs: number): string {
  const unique = mix32((index ^ hash32(seed, saltOf(table))) >>> 0);
  const r = new RowRandom(seed, saltOf(table + ':ulid'), index);
  let tail = '';
  for (let i = 0; i < 9; i++) tail += CROCKFORD[r.int(32)];
  return crockford(Math.max(0, Math.floor(timeMs)), 10) + crockford(unique, 7) + tail;
}

/** The millisecond time a ULID starts with, or NaN when the string is not a ULID. */
export function ulidTimeMs(id: string): number {
  if (id.length !== 26) return NaN;
  let v = 0;
  for (let i = 0; i < 10; i++) {
    const digit = CROCKFORD.indexOf(id[i]);
    if (digit < 0) return NaN;
    v = v * 32 + digit;
  }
  return v;
}

/** A lower-case UUID-shaped id (8-4-4-4-12 hex), unique per (table, index) through its first 8 characters. */
export function uuidLike(seed: number, table: string, index: number): string {
  const salt = hash32(seed, saltOf(table));
  let hex = mix32((index ^ salt) >>> 0)
    .toString(16)
    .padStart(8, '0');
  for (let i = 1; i <= 3; i++) hex += hash32(salt, index, i).toString(16).padStart(8, '0');
  // Version 4, RFC 4122 variant, like the UUIDs Klaviyo returns.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${HEX[8 + (parseInt(hex[16], 16) % 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** 32 hex characters (metric-property, custom-metric, attribution ids), unique through the first 8. */
export function hexId(seed: number, table: string, index: number, length = 32): string {
  return uuidLike(seed, table, index).replace(/-/g, '').slice(0, length);
}

/** A numeric-string id (images, form versions, flow actions), unique per table: a bijection plus a floor. */
export function numericId(seed: number, table: string, index: number, floor = 1_000_000): string {
  return String(floor + mix32((index ^ hash32(seed, saltOf(table))) >>> 0));
}

/** A private API key: `pk_` and 34 alphanumerics, derived from the seed and a label. */
export function privateKey(seed: number, label: string): string {
  const r = new RowRandom(seed, saltOf('private-key'), saltOf(label));
  let out = 'pk_';
  for (let i = 0; i < 34; i++) out += BASE62[r.int(62)];
  return out;
}

/** An uppercase alphanumeric code unique per (table, index): coupon codes, public site ids. */
export function upperCode(seed: number, table: string, index: number, width: number): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let unique = mix32((index ^ hash32(seed, saltOf(table))) >>> 0);
  let out = '';
  // 7 base-36 digits hold 2^32; the rest is decoration.
  for (let i = 0; i < 7; i++) {
    out = alphabet[unique % 36] + out;
    unique = Math.floor(unique / 36);
  }
  const r = new RowRandom(seed, saltOf(table + ':code'), index);
  while (out.length < width) out = alphabet[r.int(36)] + out;
  return out;
}
