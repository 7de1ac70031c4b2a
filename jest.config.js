/** Jest runs the TypeScript sources directly through SWC; integration tests start real services themselves. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testTimeout: 120_000,
  verbose: true,
  // The resilience suite's totals (trials, faults, rows lost or duplicated, keys leaked) after the usual report.
  reporters: ['default', '<rootDir>/test/resilience/summary-reporter.js'],
};
