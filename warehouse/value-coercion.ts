import type { ColumnType } from '../klaviyo/catalog';

/**
 * Coercion of JSON values to what a column of each type can hold, defensively: Klaviyo's spec is
 * loose in places (numbers sent as strings, `string|number` coordinates). A value that cannot be
 * coerced becomes null and is counted, rather than failing the whole load or being guessed at
 * (a fractional number is not rounded into a bigint; a bare number is not taken for a timestamp).
 * Coerced values are strings in Postgres' input syntax, so precision is never lost through a float.
 */

/** Counts, per column, the values that could not be coerced and were stored as null. */
export type CoercionTally = Map<string, number>;

/** Returns the coerced value, or undefined when the value cannot be coerced (the caller stores null and counts it). */
export type Coercion = (value: unknown) => unknown;

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?$/;
const INTEGER = /^[+-]?\d+$/;
const TIMESTAMP =
  /^((\d{4})-(\d{2})-(\d{2}))([T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(Z|z|[+-](\d{2})(?::?(\d{2}))?)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Bounds that keep a numeric string well inside what Postgres' numeric accepts. */
const MAX_NUMERIC_LENGTH = 1000;
const MAX_NUMERIC_EXPONENT = 1000;

export const toText: Coercion = (value) => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // An object where the spec says string: keep the data, as JSON text.
  if (typeof value === 'object' && value !== null) return value;
  return undefined;
};

export const toNumeric: Coercion = (value) => {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length > MAX_NUMERIC_LENGTH) return undefined;
  const match = NUMERIC.exec(text);
  if (!match) return undefined;
  if (match[1] !== undefined && Math.abs(Number(match[1])) > MAX_NUMERIC_EXPONENT) return undefined;
  return text;
};

export const toBigint: Coercion = (value) => {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return undefined;
    if (Number.isSafeInteger(value)) return String(value);
    return inInt64(BigInt(value));
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length > 25 || !INTEGER.test(text)) return undefined;
  return inInt64(BigInt(text));
};

export const toBoolean: Coercion = (value) => {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
  }
  return undefined;
};

/** ISO 8601 date-times with valid fields; one without an offset is taken as UTC (as Klaviyo means it). */
export const toTimestamp: Coercion = (value) => {
  if (typeof value !== 'string') return undefined;
  const match = TIMESTAMP.exec(value);
  if (!match) return undefined;
  const [, date, y, mo, d, time, h, mi, s, zone, zoneHours, zoneMinutes] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined;
  if (zoneHours !== undefined && (Number(zoneHours) > 15 || (zoneMinutes !== undefined && Number(zoneMinutes) > 59))) {
    return undefined;
  }
  if (time !== undefined && zone !== undefined) return value;
  return `${date}${time ?? 'T00:00:00'}${zone ?? '+00:00'}`;
};

export const toJson: Coercion = (value) => value;

export const COERCIONS: Record<ColumnType, Coercion> = {
  text: toText,
  numeric: toNumeric,
  bigint: toBigint,
  boolean: toBoolean,
  timestamptz: toTimestamp,
  jsonb: toJson,
};

function inInt64(value: bigint): string | undefined {
  return value >= INT64_MIN && value <= INT64_MAX ? value.toString() : undefined;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
