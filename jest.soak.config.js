/**
 * The chaos soak (test/soak/*.soak.ts): `npm run test:soak`, its own step in .ci/run after
 * `npm test`, so that `npm test` stays fast. Bounded to 5 minutes; one file at a time.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['**/soak/**/*.soak.ts'],
  maxWorkers: 1,
  testTimeout: 330_000,
};
