/**
 * Deterministic randomness addressed by (seed, table, index): any row can be generated on its own, in any order,
 * without generating the rows before it. That is what lets the sandbox serve a million events lazily.
 */

// Bound once: under jest every global lookup goes through its module sandbox, which made each
// Math.imul call ~200× slower and the in-process sandbox the bottleneck of engine tests.
const imul = Math.imul;

/** murmur3's 32-bit finaliser: a bijection on uint32, so distinct inputs stay distinct. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The inverse of mix32: turns an id built from mix32 back into the index it encodes. */
export function unmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = imul(h, 0x7ed1b41d);
  h ^= (h >>> 13) ^ (h >>> 26);
  h = imul(h, 0xa5cb9243);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uint32 hash of up to four numbers (each taken modulo 2^32). */
export function hash32(a: number, b = 0, c = 0, d = 0): number {
  let h = mix32(a ^ 0x9e3779b9);
  h = mix32(h ^ imul(b >>> 0, 0x85ebca6b) ^ (b / 4294967296));
  h = mix32(h ^ imul(c >>> 0, 0xc2b2ae35));
  h = mix32(h ^ imul(d >>> 0, 0x27d4eb2f));
  return h;
}

/** FNV-1a of a string: turns table and field names into salts. */
export function saltOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A uniform float in [0, 1) from a uint32. */
export function unit(u32: number): number {
  return u32 / 4294967296;
}

/**
 * A small stream of random numbers for one row. Two rows never share a stream; the same row always gets the same one.
 */
export class RowRandom {
  private state: number;

  constructor(seed: number, salt: number, index: number, extra = 0) {
    this.state = hash32(seed, salt, index, extra);
  }

  /** The next uint32. */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** A float in [0, 1). */
  float(): number {
    return unit(this.next());
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)];
  }

  /** A value rounded to `decimals` places, in [min, max). */
  amount(min: number, max: number, decimals = 2): number {
    const factor = 10 ** decimals;
    return Math.round((min + this.float() * (max - min)) * factor) / factor;
  }
}
