import fs from 'node:fs';

/** Memory of a process as Linux reports it in /proc/<pid>/status, in MB. */
export interface RssReading {
  rssMb: number;
  /** Peak RSS ("high water mark") since the process started or since {@link resetPeakRss}. */
  peakMb: number;
}

export function readRss(pid: number): RssReading {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/**
 * Resets the peak RSS to the current RSS (writing 5 to clear_refs, Linux ≥ 4.0), so a peak measured
 * afterwards is the run's, not the worker's start-up (which bundles the workflow code with webpack).
 * Returns false where the kernel refuses.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** RSS samples taken every `intervalMs` while a run goes on, to show whether memory grows with rows. */
export class RssSampler {
  private readonly samples: { at: number; rssMb: number }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  private sample(): void {
    try {
      this.samples.push({ at: Date.now(), rssMb: readRss(this.pid).rssMb });
    } catch {
      // The process is gone; the samples so far stand.
    }
  }

  /** Stops sampling; the highest RSS seen in the first and in the second half of the sampled time. */
  stop(): { firstHalfMaxMb: number; secondHalfMaxMb: number } {
    clearInterval(this.timer);
    this.sample();
    const start = this.samples[0]?.at ?? 0;
    const end = this.samples[this.samples.length - 1]?.at ?? 0;
    const middle = (start + end) / 2;
    const max = (list: { rssMb: number }[]) => list.reduce((m, s) => Math.max(m, s.rssMb), 0);
    return {
      firstHalfMaxMb: max(this.samples.filter((s) => s.at <= middle)),
      secondHalfMaxMb: max(this.samples.filter((s) => s.at > middle)),
    };
  }
}
