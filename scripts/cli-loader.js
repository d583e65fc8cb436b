#!/usr/bin/env node
'use strict';
/**
 * pokequeue's CLI entry (copied to dist/src/cli/main.js by scripts/bundle-cli.js): loads the
 * bundled CLI (bundle.js beside it) through V8's code cache (bundle.v8, written at build time).
 *
 * Why: Node 20 has no module compile cache (module.enableCompileCache is Node 22), and parsing
 * and compiling the 2.5 MB bundle was a third of every command's start-up. With the cache V8
 * skips both; it checks the cache against the source and its own version and flags, and falls
 * back to compiling when the cache does not fit (`cachedDataRejected`), so a stale or missing
 * cache only costs time. The cache is never written at run time: concurrent commands and
 * read-only installs stay safe.
 */
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const vm = require('node:vm');

const file = join(__dirname, 'bundle.js');
const cacheFile = join(__dirname, 'bundle.v8');
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined; // no cache yet (or unreadable): compile as usual
}
const source = readFileSync(file, 'utf8').replace(/^#!.*/, '');
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
const bundle = new Module(file, module);
bundle.filename = file;
bundle.paths = Module._nodeModulePaths(__dirname);
// The bundle gets a whole `require`, as Node gives every module: the packages left outside it
// load from node_modules, and `require.resolve` works (the dashboard finds chart.js's files by it).
const bundleRequire = Module.createRequire(file);
script.runInThisContext().call(bundle.exports, bundle.exports, bundleRequire, bundle, file, __dirname);
bundle.loaded = true;
module.exports = bundle.exports;

if (process.env.POKEQUEUE_WRITE_CODE_CACHE === '1') {
  // Build time: after the bundle's modules have run their top-level code, so the functions V8
  // compiled on the way are in the cache too.
  writeFileSync(cacheFile, script.createCachedData());
} else if (require.main === module) {
  void bundle.exports.buildProgram().parseAsync(process.argv);
}
