// @ts-check
/* eslint-disable @typescript-eslint/no-require-imports -- jest loads reporters as plain CommonJS, untransformed */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/**
 * A jest reporter that prints the resilience suite's summary at the end of a run: trials, faults
 * injected, runs survived, rows lost or duplicated and keys leaked, summed over the entries the
 * test files of test/resilience appended to the tally file (see tally.ts). Prints nothing when no
 * resilience test ran. Plain CommonJS: jest loads reporters without transforming them.
 */
class ResilienceSummaryReporter {
  constructor() {
    this.file = path.join(os.tmpdir(), `resilience-tally-${process.pid}-${Date.now()}.jsonl`);
    // Set before any test file runs, so in-band tests and forked workers alike inherit it.
    process.env.RESILIENCE_TALLY_FILE = this.file;
  }

  /** @param {unknown} _contexts @param {{ testResults: { testFilePath: string, numFailingTests: number, failureMessage?: string | null }[] }} results */
  onRunComplete(_contexts, results) {
    if (!fs.existsSync(this.file)) return;
    const entries = fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line));
    fs.rmSync(this.file, { force: true });
    if (entries.length === 0) return;
    const fields = ['trials', 'faults', 'survived', 'rowsLost', 'rowsDuplicated', 'rowsWrong', 'keysLeaked'];
    const total = Object.fromEntries(fields.map((f) => [f, entries.reduce((sum, e) => sum + (Number(e[f]) || 0), 0)]));
    // A file that crashed may have tallied nothing, or too little: its scenario is marked FAILED, whatever it tallied.
    const failedFiles = results.testResults
      .filter(
        (r) =>
          r.testFilePath.includes(`${path.sep}resilience${path.sep}`) && (r.numFailingTests > 0 || r.failureMessage),
      )
      .map((r) => r.testFilePath);
    const failed = (e) => failedFiles.some((f) => f === e.file || path.resolve(String(e.file)) === f);
    const width = Math.max(...entries.map((e) => String(e.scenario).length), 'total'.length);
    /** @param {Record<string, number> | undefined} fired */
    const firedText = (fired) =>
      Object.entries(fired ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([kind, n]) => `${kind}×${n}`)
        .join(' ');
    const row = (name, e, mark) =>
      `  ${String(name).padEnd(width)}  ${fields.map((f) => String(e[f] ?? 0).padStart(f.length)).join('  ')}  ${
        mark ? 'FAILED  ' : ''
      }${e.fired ? firedText(e.fired) : ''}`;
    const clean = total.rowsLost === 0 && total.rowsDuplicated === 0 && total.rowsWrong === 0 && total.keysLeaked === 0;
    const lines = [
      '',
      'Resilience summary (faults fired by kind, from the sandbox request log or as caused)',
      `  ${''.padEnd(width)}  ${fields.join('  ')}  fired`,
      ...entries.map((e) => row(e.scenario, e, failed(e))),
      row('total', total, false),
      clean && failedFiles.length === 0
        ? '  zero rows lost, zero rows duplicated or unexpected, zero values wrong, zero keys leaked'
        : '  FAILED: a scenario failed, rows were lost, duplicated or wrong, or a key leaked',
      ...failedFiles.map((f) => `  FAILED: ${path.relative(process.cwd(), f)}`),
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

module.exports = ResilienceSummaryReporter;
