import { upperCode } from '../ids';
import { hash32, RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Condition, Resource, ResourceRef, RowSource } from './row';
import { allRows, rowSource, type TableModel } from './table-model';
import { DAY, isoSeconds } from './values';

const KNOWN = ['10OFF', 'SUMMER25', 'WELCOME15', 'FREESHIP', 'VIP-50', 'BFCM2025', 'LOYALTY5'] as const;
const STATUSES = [
  'UNASSIGNED',
  'UNASSIGNED',
  'ASSIGNED_TO_PROFILE',
  'USED',
  'PROCESSING',
  'DELETING',
  'VERSION_NOT_ACTIVE',
] as const;

/**
 * Coupons and their codes. Codes are numbered globally (coupon by coupon) so /api/coupon-codes, which needs a
 * `coupon.id` (or `profile.id`) filter, and /api/coupons/{id}/coupon-codes serve the same rows.
 */
export class Coupons {
  private firstCode?: number[];

  constructor(private readonly ds: Dataset) {}

  get count(): number {
    return this.ds.sizes.coupons;
  }

  id(index: number): string {
    // A coupon's id is its external id.
    return index < KNOWN.length ? KNOWN[index] : `COUPON${index}`;
  }

  codeCount(coupon: number): number {
    if (coupon % 5 === 4) return 0;
    const max = Math.max(1, this.ds.sizes.couponCodesPerCoupon);
    return 1 + (hash32(this.ds.seed, saltOf('coupon'), coupon) % max);
  }

  /** Prefix sums: the global number of each coupon's first code, plus the total at the end. */
  private offsets(): number[] {
    if (!this.firstCode) {
      this.firstCode = [0];
      for (let c = 0; c < this.count; c++) this.firstCode.push(this.firstCode[c] + this.codeCount(c));
    }
    return this.firstCode;
  }

  couponOfCode(global: number): number {
    const offsets = this.offsets();
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (offsets[mid] <= global) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  row(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('coupon'), index);
    return {
      type: 'coupon',
      id: this.id(index),
      attributes: {
        external_id: this.id(index),
        description: r.chance(0.7)
          ? `${r.pick(['10% off', 'Free "express" shipping', 'Rabais d’été'])} (${index})`
          : null,
        monitor_configuration: r.chance(0.5) ? { low_balance_threshold: r.between(10, 500) } : null,
      },
    };
  }

  ref(index: number): ResourceRef {
    return { type: 'coupon', id: this.id(index), load: () => this.row(index) };
  }

  codeRow(global: number): Resource {
    const ds = this.ds;
    const coupon = this.couponOfCode(global);
    const r = new RowRandom(ds.seed, saltOf('coupon-code'), global);
    const code = upperCode(ds.seed, 'coupon-code', global, 12);
    const status = r.pick(STATUSES);
    const profiles = ds.profiles.count;
    const profile = (status === 'ASSIGNED_TO_PROFILE' || status === 'USED') && profiles > 0 ? r.int(profiles) : -1;
    return {
      type: 'coupon-code',
      id: `${this.id(coupon)}-${code}`,
      attributes: {
        unique_code: code,
        expires_at: r.chance(0.6) ? isoSeconds(ds.state.startSec + r.between(-30, 365) * DAY) : null,
        status,
      },
      relationships: { coupon: this.ref(coupon), profile: profile >= 0 ? ds.profiles.ref(profile) : null },
      filterValues: { 'coupon.id': this.id(coupon), 'profile.id': profile >= 0 ? ds.profiles.id(profile) : null },
    };
  }

  private allCodes(): RowSource {
    const total = this.offsets()[this.count];
    return rowSource(total, (g) => this.codeRow(g), {
      predicate: (c: Condition) => {
        if (c.field !== 'coupon.id' || (c.op !== 'equals' && c.op !== 'any')) return undefined;
        const wanted = new Set(Array.isArray(c.value) ? c.value : [c.value]);
        return (g) => wanted.has(this.id(this.couponOfCode(g)));
      },
    });
  }

  models(): Record<string, TableModel> {
    const coupons = () => this.ds.cached('coupons', () => rowSource(this.count, (i) => this.row(i)));
    return {
      coupons: { source: coupons },
      coupon_codes: { source: () => this.ds.cached('coupon_codes', () => this.allCodes()) },
      coupon_codes_by_coupon: {
        source: (coupon) => {
          const first = this.offsets()[coupon];
          return rowSource(this.codeCount(coupon), (k) => this.codeRow(first + k));
        },
        parents: () => allRows(coupons()),
      },
    };
  }
}
