/** One jest run over every workspace; integration tests use the real Redis and Postgres. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/packages', '<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/infra/test/global-setup.ts',
  reporters: ['default', '<rootDir>/infra/test/summary-reporter.js'],
  testTimeout: 120000,
  maxWorkers: 2,
};
