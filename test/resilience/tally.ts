import fs from 'node:fs';

/** What one scenario of the resilience suite tried and what came of it. */
export interface TallyEntry {
  scenario: string;
  /** Runs or requests the scenario drove. */
  trials: number;
  /** Faults injected: kills, restarts, terminated connections, fault rules, hostile inputs. */
  faults: number;
  /** Trials that ended the way the scenario requires (a run Succeeded, or failed cleanly where it must). */
  survived: number;
  rowsLost: number;
  rowsDuplicated: number;
  keysLeaked: number;
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

/** Starts an entry and lets a test file add to it as it goes; `save()` records it once. */
export function startTally(scenario: string) {
  const entry: TallyEntry = {
    scenario,
    trials: 0,
    faults: 0,
    survived: 0,
    rowsLost: 0,
    rowsDuplicated: 0,
    keysLeaked: 0,
  };
  let saved = false;
  return {
    entry,
    add(part: Partial<Omit<TallyEntry, 'scenario'>>): void {
      for (const [key, value] of Object.entries(part) as [keyof Omit<TallyEntry, 'scenario'>, number][]) {
        entry[key] += value;
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
