/** Jest runs the TypeScript sources directly through SWC; integration tests start real services themselves. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testTimeout: 120_000,
  // Two files at a time, whatever the machine: most of a file's time is spent waiting (heartbeat timeouts, retry
  // backoff, rate windows, slow sandbox answers), so two share a 2-core machine well; more would crowd Postgres's
  // 100 connections (a file with workers holds some 30). Each file starts its own Temporal, database and sandbox on
  // free ports and keeps its files in temporary directories, so files do not meet. `--runInBand` still runs one.
  maxWorkers: 2,
  testSequencer: '<rootDir>/test/slow-first-sequencer.js',
  // `npm run build` once per run: dist/worker.js and dist/workflow-bundle.js, what the tests' workers run.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  verbose: true,
  // The resilience suite's totals (trials, faults, rows lost or duplicated, keys leaked) after the usual report.
  reporters: ['default', '<rootDir>/test/resilience/summary-reporter.js'],
};
