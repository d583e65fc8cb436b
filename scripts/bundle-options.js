'use strict';
/**
 * What the three esbuild bundles (the CLI and its parse thread, scripts/bundle-cli.js; the
 * library, scripts/bundle-lib.js) have in common, so they cannot drift apart.
 *
 * `common`: one CommonJS file for Node 20, minified in whitespace and syntax only: function names
 * stay, so stack traces still read.
 *
 * `external`: the packages left out of both bundles (the CLI's, scripts/bundle-cli.js, and the library's,
 * scripts/bundle-lib.js), loaded from node_modules when, and only when, they are needed:
 * - the dashboard's (express, bull-board, prom-client, chart.js): bull-board serves its UI from
 *   files beside its own code, and only `dashboard`, `start` and `demo` load them;
 * - pino-pretty (only on a terminal), undici (only what fetches loads it: 0.7 MB that every other
 *   command, and a program that only enqueues, would parse for nothing) and msgpackr (BullMQ's
 *   packer, which looks for its optional native addon relative to its own directory).
 */
const external = ['express', '@bull-board/*', 'prom-client', 'chart.js', 'pino-pretty', 'msgpackr', 'msgpackr-extract', 'undici'];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};

module.exports = { common, external };
