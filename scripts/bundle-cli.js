#!/usr/bin/env node
/**
 * Bundles the built CLI (dist/src/cli/main.js, from tsc) into that same file, with its start-up
 * dependencies (commander, zod, ioredis, bullmq, pino, undici, cli-progress) inlined.
 *
 * Why: every `pokequeue` command is a short process, and Node 20 has no module compile cache
 * (module.enableCompileCache is Node 22). Finding, reading and compiling the ~500 files it loads took
 * most of a 0.36 s `pokequeue --version`; the bundle starts in about half that, which is a
 * quarter of the tutorial benchmark's whole-process time (bench/RESULTS.md §1).
 *
 * What stays outside, loaded from node_modules as before:
 * - the dashboard's packages (express, bull-board, prom-client, chart.js): bull-board serves
 *   its UI from files beside its own code, and only `dashboard`, `start` and `demo` load them;
 * - pino-pretty (only on a terminal) and msgpackr (BullMQ's packer, which looks for its
 *   optional native addon relative to its own directory).
 * Every other file under dist/ is still tsc's output, which tests and the bench import directly.
 */
const { buildSync } = require('esbuild');
const { resolve } = require('node:path');

const entry = resolve(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
buildSync({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Whitespace and syntax only: function names stay, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['express', '@bull-board/*', 'prom-client', 'chart.js', 'pino-pretty', 'msgpackr', 'msgpackr-extract', 'undici'],
  logLevel: 'warning',
});
