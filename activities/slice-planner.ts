import { performance } from 'node:perf_hooks';
import { climb, lowWait, memoryCap, sliceFloor, sliceTarget, startClimb } from './slices';
import type { SliceSettings } from './slice-settings';

/** The waits a read's floor is taken from (the latest, of pages read while at most FLOOR_SLICES slices ran). */
const WAITS_KEPT = 64;
/** A read starts on one slice; the climber may open a second before the floor has its waits. */
const FLOOR_SLICES = 2;

/** Sliced reads running in this process, per account and tier: they share its budget. */
const running = new Map<string, number>();
/** Bytes each sliced read of this process holds in pages (its slices × its bytes per slice): they share the memory budget. */
const held = new Map<symbol, number>();

/**
 * How many slices one sliced read runs (extract-slices.ts), from what its pages tell: the floor, the climb and the
 * memory cap of slices.ts, with the reads of the process it shares the tier's rate and the memory budget with.
 */
export class SlicePlanner {
  private readonly me = Symbol('sliced read');
  /**
   * Waits of pages read while few slices ran (as a read starts, and at its end): the network's round trip is the same
   * whatever the slices, while a server's queue (the sandbox on a loaded machine, limits off) grows with them; a
   * floor taken from waits at many slices would read that queue as latency and open more slices still.
   */
  private readonly waits: number[] = [];
  /** When the latest pages came (ms), to tell whether the read already uses its share of the tier's rate. */
  private readonly arrivals: number[] = [];
  /** Bytes a slice of this read holds (slices.ts's sliceBytes), averaged over its latest pages. */
  private sliceBytes: number | undefined;
  private climbed = startClimb();
  private rows = 0;
  private pages = 0;
  private readonly started = performance.now();

  constructor(
    private readonly shareKey: string,
    private readonly requestsPerSecond: number,
    private readonly settings: SliceSettings,
  ) {
    running.set(shareKey, (running.get(shareKey) ?? 0) + 1);
    held.set(this.me, 0);
  }

  /**
   * A page came, at `at`, `waitSeconds` after the chain had handled its last one (null after a write, which hid the
   * latency), with `slices` running, and `heldGuess`, what a slice holds by this page before it is encoded (see
   * {@link page}). Told as it comes, before the runner decides whether to split at it: a read's first page then
   * already counts, and the read splits at it.
   */
  arrived(at: number, waitSeconds: number | null, slices: number, heldGuess: number): void {
    // Before the first page is handled, what a slice holds is guessed from this page (the target needs it to split here).
    this.sliceBytes ??= heldGuess;
    if (waitSeconds !== null && slices <= FLOOR_SLICES) this.waits.push(waitSeconds);
    this.arrivals.push(at);
    if (this.arrivals.length > WAITS_KEPT) this.arrivals.shift();
    if (this.waits.length > WAITS_KEPT) this.waits.shift();
  }

  /** The page told by {@link arrived} is handled: `heldBytes`, what its slice holds by it (slices.ts's sliceBytes). */
  page(at: number, page: { heldBytes: number; rows: number }, slices: number): void {
    this.sliceBytes =
      this.pages === 0 ? page.heldBytes : (this.sliceBytes ?? page.heldBytes) * 0.9 + page.heldBytes * 0.1;
    this.rows += page.rows;
    this.pages++;
    held.set(this.me, slices * (this.sliceBytes ?? 0));
    const now = (at - this.started) / 1000;
    this.climbed = climb(this.climbed, {
      now,
      rows: this.rows,
      pages: this.pages,
      running: slices,
      target: this.target(),
    });
  }

  target(): number {
    if (this.sliceBytes === undefined) return 1;
    const wait = lowWait(this.waits);
    const share = running.get(this.shareKey) ?? 1;
    // At its share of the tier's rate already, a read's waits are the budget's queue, not latency: no more slices.
    const span = ((this.arrivals.at(-1) ?? 0) - (this.arrivals[0] ?? 0)) / 1000;
    const busy = span > 0 && (this.arrivals.length - 1) / span >= (0.9 * this.requestsPerSecond) / share;
    let others = 0;
    for (const [read, bytes] of held) if (read !== this.me) others += bytes;
    const { memoryBytes, maxSlices } = this.settings;
    return sliceTarget({
      floor:
        wait === undefined || busy
          ? 1
          : sliceFloor({ requestsPerSecond: this.requestsPerSecond, share, waitSeconds: wait }),
      climbed: this.climbed.cap,
      memory: memoryCap({
        budgetBytes: memoryBytes,
        othersBytes: others,
        reads: held.size,
        bytesPerSlice: this.sliceBytes,
      }),
      max: maxSlices,
    });
  }

  close(): void {
    held.delete(this.me);
    const left = (running.get(this.shareKey) ?? 1) - 1;
    if (left > 0) running.set(this.shareKey, left);
    else running.delete(this.shareKey);
  }
}
