import { hash32, RowRandom, saltOf } from '../random';
import { DAY, HOUR } from './values';

/**
 * The part of the sandbox account that changes: its clock, profiles touched by `advance`, and events appended since
 * start. Everything else is a pure function of (seed, index). Memory is per change, never per row.
 */

/** Events whose datetimes spread evenly over [fromSec, toSec): the base load and each batch of new events. */
export interface SpreadEventBlock {
  kind: 'spread';
  start: number;
  count: number;
  fromSec: number;
  toSec: number;
}

/**
 * Events with datetimes of their own: back-dated (in the past) or future-dated (Klaviyo accepts both), so they break
 * the "datetime grows with the ordinal" rule.
 */
export interface DatedEventBlock {
  kind: 'dated';
  start: number;
  count: number;
  seconds: Float64Array;
}

export type EventBlock = SpreadEventBlock | DatedEventBlock;

export interface ProfileChange {
  updatedSec: number;
  /** How many times the profile was changed; changed attributes derive from it. */
  revision: number;
}

export interface AdvanceRequest {
  changeProfiles?: number;
  addEvents?: number;
  backdatedEvents?: number;
  /** How far back back-dated events may lie. @default 72 */
  backdateWindowHours?: number;
  /** Events dated `futureHours` after the new clock: a client's clock or data ahead of time. */
  futureEvents?: number;
  /** @default 720 (30 days) */
  futureHours?: number;
  /** How far the clock moves. @default 1 */
  hours?: number;
}

export interface AdvanceResult {
  clock: string;
  changedProfiles: number;
  addedEvents: number;
  backdatedEvents: number;
  futureEvents: number;
}

/** 2026-01-01T00:00:00Z: the default sandbox "now" before any advance. */
export const DEFAULT_START_SECONDS = Date.UTC(2026, 0, 1) / 1000;
/** Base events spread over the year before the start. */
export const EVENT_HISTORY_SECONDS = 365 * DAY;

export class WorldState {
  clockSec: number;
  /** Bumped by every change; caches of sorted orders are keyed on it. */
  version = 0;
  private advances = 0;
  readonly profileChanges = new Map<number, ProfileChange>();
  readonly eventBlocks: EventBlock[];
  private datedBlocks = 0;
  /** Ids deleted from the account, by resource type: every listing skips them. */
  private readonly deletedIds = new Map<string, Set<string>>();

  constructor(
    private readonly seed: number,
    readonly startSec: number,
    private readonly profileCount: number,
    baseEvents: number,
  ) {
    this.clockSec = startSec;
    this.eventBlocks = [
      { kind: 'spread', start: 0, count: baseEvents, fromSec: startSec - EVENT_HISTORY_SECONDS, toSec: startSec },
    ];
  }

  get eventCount(): number {
    const last = this.eventBlocks[this.eventBlocks.length - 1];
    return last.start + last.count;
  }

  /** True while every event's datetime is >= the datetime of every event with a smaller ordinal. */
  get eventsMonotone(): boolean {
    return this.datedBlocks === 0;
  }

  /** The block holding an ordinal (binary search; there are few blocks). */
  eventBlock(ordinal: number): EventBlock {
    const blocks = this.eventBlocks;
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid].start <= ordinal) lo = mid;
      else hi = mid - 1;
    }
    return blocks[lo];
  }

  eventSeconds(ordinal: number): number {
    const block = this.eventBlock(ordinal);
    const offset = ordinal - block.start;
    if (block.kind === 'dated') return block.seconds[offset];
    return block.fromSec + Math.floor((offset * (block.toSec - block.fromSec)) / block.count);
  }

  /** True when the ordinal was added by `advance` as a back-dated or future-dated event. */
  isBackdated(ordinal: number): boolean {
    return this.eventBlock(ordinal).kind === 'dated';
  }

  /** The deleted ids of a resource type, or undefined while none is. */
  deleted(type: string): ReadonlySet<string> | undefined {
    return this.deletedIds.get(type);
  }

  get hasDeletions(): boolean {
    return this.deletedIds.size > 0;
  }

  /** Deletes resources by type and id (the caller checked they exist). */
  delete(type: string, ids: Iterable<string>): void {
    let set = this.deletedIds.get(type);
    if (!set) this.deletedIds.set(type, (set = new Set()));
    for (const id of ids) set.add(id);
    this.version += 1;
  }

  advance(request: AdvanceRequest): AdvanceResult {
    const hours = request.hours ?? 1;
    const changeProfiles = request.changeProfiles ?? 0;
    const addEvents = request.addEvents ?? 0;
    const backdated = request.backdatedEvents ?? 0;
    const windowHours = request.backdateWindowHours ?? 72;
    const future = request.futureEvents ?? 0;
    const futureHours = request.futureHours ?? 720;
    const checked = { hours, changeProfiles, addEvents, backdated, windowHours, future, futureHours };
    for (const [name, value] of Object.entries(checked)) {
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`advance: ${name} must be a non-negative number`);
    }
    if (backdated > 0 && windowHours <= 0) throw new RangeError('advance: backdateWindowHours must be positive');
    const previous = this.clockSec;
    const now = previous + Math.max(1, Math.round(hours * HOUR));
    this.advances += 1;
    const r = new RowRandom(this.seed, saltOf('advance'), this.advances);

    // Profiles: distinct indices picked by a stride walk from a random start, updated within (previous, now].
    const changed = Math.min(Math.floor(changeProfiles), this.profileCount);
    if (changed > 0) {
      const stride = pickStride(this.profileCount, r);
      let index = r.int(this.profileCount);
      for (let k = 0; k < changed; k++) {
        const prior = this.profileChanges.get(index);
        const updatedSec = previous + 1 + Math.floor(((k + 1) * (now - previous - 1)) / changed);
        this.profileChanges.set(index, { updatedSec, revision: (prior?.revision ?? 0) + 1 });
        index = (index + stride) % this.profileCount;
      }
    }

    const added = Math.floor(addEvents);
    if (added > 0) {
      this.eventBlocks.push({
        kind: 'spread',
        start: this.eventCount,
        count: added,
        fromSec: previous + 1,
        toSec: now + 1,
      });
    }

    const late = Math.floor(backdated);
    if (late > 0) {
      const windowSec = Math.max(1, Math.round(windowHours * HOUR));
      const seconds = new Float64Array(late);
      for (let k = 0; k < late; k++) seconds[k] = now - 1 - r.int(windowSec);
      this.eventBlocks.push({ kind: 'dated', start: this.eventCount, count: late, seconds });
      this.datedBlocks += 1;
    }

    const ahead = Math.floor(future);
    if (ahead > 0) {
      const at = now + Math.max(1, Math.round(futureHours * HOUR));
      const seconds = new Float64Array(ahead).fill(at);
      this.eventBlocks.push({ kind: 'dated', start: this.eventCount, count: ahead, seconds });
      this.datedBlocks += 1;
    }

    this.clockSec = now;
    this.version += 1;
    return {
      clock: new Date(now * 1000).toISOString(),
      changedProfiles: changed,
      addedEvents: added,
      backdatedEvents: late,
      futureEvents: ahead,
    };
  }
}

/** A stride coprime with n, so a walk visits n distinct indices before repeating. */
function pickStride(n: number, r: RowRandom): number {
  if (n <= 2) return 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 1 + (hash32(r.next()) % (n - 1));
    if (gcd(candidate, n) === 1) return candidate;
  }
  return 1;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
