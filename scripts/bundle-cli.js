#!/usr/bin/env node
/**
 * Bundles the built CLI (dist/src/cli/main.js, from tsc) into dist/src/cli/bundle.js, with its
 * start-up dependencies (commander, zod, ioredis, bullmq, pino, cli-progress) inlined, and puts
 * the loader (cli-loader.js) in main.js's place with a V8 code cache for the bundle.
 *
 * Why: every `pokequeue` command is a short process, and Node 20 has no module compile cache
 * (module.enableCompileCache is Node 22). Finding, reading and compiling the ~500 files it
 * loads took most of a 0.36 s `pokequeue --version`; bundled, 0.19 s; with the code cache,
 * about 0.13 s. Start-up is a third of the tutorial benchmark's whole-process time
 * (bench/RESULTS.md §1).
 *
 * What stays outside, loaded from node_modules as before, is listed (with why) in
 * bundle-options.js, with the esbuild options the library's bundle (bundle-lib.js) shares.
 * The parse thread (dist/src/pokeapi/parse-thread.js, which a worker loads as a file of its own)
 * is bundled in place the same way, so that it needs no other file of dist/: the package ships
 * these four files (main.js, bundle.js, bundle.v8, parse-thread.js) and no other output of tsc.
 * Every other file under dist/ is still tsc's output, which tests and the bench import directly.
 */
const { buildSync } = require('esbuild');
const { execFileSync } = require('node:child_process');
const { copyFileSync, readFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { common, external } = require('./bundle-options');

const dir = join(__dirname, '..', 'dist', 'src', 'cli');
const entry = join(dir, 'main.js');
if (readFileSync(entry, 'utf8').includes('POKEQUEUE_WRITE_CODE_CACHE')) {
  throw new Error(`${entry} is already the loader: run tsc first (npm run build does both)`);
}
rmSync(join(dir, 'bundle.v8'), { force: true });
buildSync({
  entryPoints: [entry],
  outfile: join(dir, 'bundle.js'),
  ...common,
  external,
});
const thread = join(__dirname, '..', 'dist', 'src', 'pokeapi', 'parse-thread.js');
buildSync({
  entryPoints: [thread],
  outfile: thread,
  allowOverwrite: true,
  ...common,
});
// main.js becomes the loader (scripts/cli-loader.js), which runs bundle.js through V8's code
// cache; one run here writes that cache.
copyFileSync(join(__dirname, 'cli-loader.js'), entry);
execFileSync(process.execPath, [entry], { env: { ...process.env, POKEQUEUE_WRITE_CODE_CACHE: '1' }, stdio: 'inherit' });
