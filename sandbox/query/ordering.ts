import type { KeyFn, Scalar } from '../data/row';

/**
 * A table's rows in ascending order of one key, ties broken by index. Either the index order itself (for keys that
 * grow with the index: no memory, no work) or a permutation sorted once and cached until the data changes.
 */
export interface Ordering {
  readonly size: number;
  /** The row index at a position. */
  at(position: number): number;
  /** The sort key of a row; null for the index order. */
  key(index: number): Scalar;
  readonly identity: boolean;
}

export function identityOrdering(size: number, key: KeyFn | null): Ordering {
  return { size, at: (p) => p, key: key ?? (() => null), identity: true };
}

/** Compares keys: nulls first, then numbers/strings/booleans by value. */
export function compareKeys(a: Scalar, b: Scalar): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Largest index the numeric fast path can pack next to a key in one double. */
const INDEX_BITS = 2 ** 23;
const KEY_RANGE = 2 ** 29;

/** Sorts row indices by (key, index). Integer keys (epoch seconds) take a typed-array path: ~100 ms per million. */
export function sortedOrdering(size: number, key: KeyFn): Ordering {
  const keys: Scalar[] = new Array(size);
  let numeric = size < INDEX_BITS;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < size; i++) {
    const k = key(i);
    keys[i] = k;
    if (numeric && k !== null) {
      if (typeof k !== 'number' || !Number.isInteger(k)) numeric = false;
      else {
        if (k < min) min = k;
        if (k > max) max = k;
      }
    }
  }
  let order: Uint32Array;
  if (numeric && (size === 0 || max - min + 1 < KEY_RANGE)) {
    // Pack (key - min + 1, index) into one double; null keys become 0 and sort first.
    const packed = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const k = keys[i] as number | null;
      packed[i] = (k === null ? 0 : k - min + 1) * INDEX_BITS + i;
    }
    packed.sort();
    order = new Uint32Array(size);
    for (let p = 0; p < size; p++) order[p] = packed[p] % INDEX_BITS;
    // Keep the keys as doubles (NaN for null): a million boxed values would cost three times the memory.
    const numbers = new Float64Array(size);
    for (let i = 0; i < size; i++) numbers[i] = keys[i] === null ? NaN : (keys[i] as number);
    const sorted = order;
    return { size, at: (p) => sorted[p], key: (i) => (Number.isNaN(numbers[i]) ? null : numbers[i]), identity: false };
  } else {
    order = new Uint32Array(size);
    for (let i = 0; i < size; i++) order[i] = i;
    order.sort((a, b) => compareKeys(keys[a], keys[b]) || a - b);
  }
  return { size, at: (p) => order[p], key: (i) => keys[i], identity: false };
}

/** First position whose (key, index) is not below the given pair. */
export function lowerBoundPair(ordering: Ordering, key: Scalar, index: number): number {
  let lo = 0;
  let hi = ordering.size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = ordering.at(mid);
    const c = compareKeys(ordering.key(at), key) || at - index;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position whose key is >= value (strict: > value). */
export function boundByKey(ordering: Ordering, value: Scalar, strict: boolean, from = 0, to = ordering.size): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(ordering.key(ordering.at(mid)), value);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position with a non-null key (nulls sort first). */
export function firstNonNull(ordering: Ordering): number {
  let lo = 0;
  let hi = ordering.size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ordering.key(ordering.at(mid)) === null) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
