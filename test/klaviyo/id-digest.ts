/**
 * An order-independent fingerprint of a set of ids, so a million ids can be compared without holding
 * them: a count plus two sums of independent 32-bit hashes. A missing, extra or repeated id changes it.
 */
export class IdDigest {
  count = 0;
  private sumA = 0;
  private sumB = 0;

  add(id: string): void {
    let a = 0x811c9dc5;
    let b = 0x01000193;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b + c, 0x5bd1e995) ^ (b >>> 15);
    }
    this.count++;
    this.sumA = (this.sumA + (a >>> 0)) % 2 ** 48;
    this.sumB = (this.sumB + (b >>> 0)) % 2 ** 48;
  }

  addAll(ids: Iterable<string>): this {
    for (const id of ids) this.add(id);
    return this;
  }

  /** Comparable with `toEqual`. */
  get value(): string {
    return `${this.count}:${this.sumA.toString(16)}:${this.sumB.toString(16)}`;
  }
}
