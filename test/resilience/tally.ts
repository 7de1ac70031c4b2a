import fs from 'node:fs';

/** What one scenario of the resilience suite tried and what came of it. */
export interface TallyEntry {
  scenario: string;
  /** The test file that tallied it: the summary marks the scenario FAILED when that file failed. */
  file: string;
  /** Runs or requests the scenario drove. */
  trials: number;
  /** Faults injected: kills, restarts, terminated connections, fault rules, hostile inputs. */
  faults: number;
  /** Trials that ended the way the scenario requires (a run Succeeded, or failed cleanly where it must). */
  survived: number;
  rowsLost: number;
  rowsDuplicated: number;
  /** Rows with the right id and a wrong value (the value digest of test/support/value-digest.ts). */
  rowsWrong: number;
  keysLeaked: number;
  /** Faults that fired, by kind: from the sandbox's request log, or counted as the test caused them (kills). */
  fired: Record<string, number>;
}

/**
 * The file every resilience test file appends its entries to, one JSON object a line. The summary
 * reporter (summary-reporter.js) names it in the environment before any test file starts, so the test
 * files of one jest run (in band or in workers) share it, and prints the totals when the run completes.
 */
export const TALLY_FILE_VARIABLE = 'RESILIENCE_TALLY_FILE';

export function recordTally(entry: TallyEntry): void {
  // Without the reporter (another jest config) the entry is only printed.
  const file = process.env[TALLY_FILE_VARIABLE];
  if (file) fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
  console.log(`resilience: ${JSON.stringify(entry)}`);
}

type Counter = Exclude<keyof TallyEntry, 'scenario' | 'file' | 'fired'>;

/**
 * Starts an entry and lets a test file add to it as it goes; `save()` records it once. Add `survived` only after
 * a trial's assertions passed, and faults only as `fire()`d: a fault counted is a fault seen to happen.
 */
export function startTally(scenario: string, file: string) {
  const entry: TallyEntry = {
    scenario,
    file,
    trials: 0,
    faults: 0,
    survived: 0,
    rowsLost: 0,
    rowsDuplicated: 0,
    rowsWrong: 0,
    keysLeaked: 0,
    fired: {},
  };
  let saved = false;
  return {
    entry,
    add(part: Partial<Pick<TallyEntry, Exclude<Counter, 'faults'>>>): void {
      for (const [key, value] of Object.entries(part) as [Counter, number][]) entry[key] += value;
    },
    /** Faults that fired, by kind; `faults` is their sum. */
    fire(kinds: Record<string, number>): void {
      for (const [kind, n] of Object.entries(kinds)) {
        entry.fired[kind] = (entry.fired[kind] ?? 0) + n;
        entry.faults += n;
      }
    },
    save(): void {
      if (saved) return;
      saved = true;
      recordTally(entry);
    },
  };
}
export type Tally = ReturnType<typeof startTally>;
