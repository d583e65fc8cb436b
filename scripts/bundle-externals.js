'use strict';
/**
 * The packages left out of both bundles (the CLI's, scripts/bundle-cli.js, and the library's,
 * scripts/bundle-lib.js), loaded from node_modules when, and only when, they are needed:
 * - the dashboard's (express, bull-board, prom-client, chart.js): bull-board serves its UI from
 *   files beside its own code, and only `dashboard`, `start` and `demo` load them;
 * - pino-pretty (only on a terminal), undici (only what fetches loads it: 0.7 MB that every other
 *   command, and a program that only enqueues, would parse for nothing) and msgpackr (BullMQ's
 *   packer, which looks for its optional native addon relative to its own directory).
 */
module.exports = ['express', '@bull-board/*', 'prom-client', 'chart.js', 'pino-pretty', 'msgpackr', 'msgpackr-extract', 'undici'];
