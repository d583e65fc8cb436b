/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // Integration tests start redis-server, simulators and worker processes of their own;
  // two cores cannot run many of those side by side without timing noise.
  maxWorkers: 2,
  testTimeout: 60_000,
};
