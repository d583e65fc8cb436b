#!/usr/bin/env node
'use strict';
/**
 * Builds the library (`require('pokequeue')`, `import … from 'pokequeue'`) from tsc's output:
 * - dist/lib/index.js: src/index.ts (dist/src/index.js) bundled by esbuild like the CLI, with the
 *   same options and the same packages left outside (bundle-options.js), so a program loads one file plus what it
 *   uses, and runs the very ioredis and BullMQ code the CLI runs (what the tests ran);
 * - dist/lib/index.mjs: the ES module entry, a wrapper that re-exports the CommonJS bundle's
 *   names. One copy of the code for both: a class is the same class (instanceof works) whether
 *   a program requires or imports it, and two programs that mix them share one state;
 * - dist/src/index.d.mts: the ES module entry's types, re-exporting the declarations tsc wrote
 *   beside its output (tsconfig.build.json: `declaration`, and `stripInternal`, which leaves out
 *   what is marked @internal, the CLI's way into PokeQueue, so that the public declarations
 *   import nothing but each other).
 * The package ships these and the declarations reachable from dist/src/index.d.ts, no other
 * output of tsc (package.json `files`; test/package.test.ts checks both lists).
 * (test/fixtures/library/, excluded from tsconfig.json, holds the programs that package.test.ts
 * type-checks against the installed package in a project of their own.)
 *
 * It also checks what the library must never contain: the CLI, the dashboard, the simulator and
 * the worker are no part of it, so a program that imports pokequeue never loads them.
 */
const { buildSync } = require('esbuild');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const { common, external } = require('./bundle-options');

const root = join(__dirname, '..');
const dist = join(root, 'dist');
const outDir = join(dist, 'lib');
const outfile = join(outDir, 'index.js');
mkdirSync(outDir, { recursive: true });

const result = buildSync({
  entryPoints: [join(dist, 'src', 'index.js')],
  outfile,
  ...common,
  external,
  metafile: true,
  absWorkingDir: root,
});

const forbidden = /^dist\/src\/(cli|dashboard|simulator)\/|^dist\/src\/queue\/pokemon-worker\.js$|^dist\/src\/pokeapi\/parse-thread\.js$/;
const strays = Object.keys(result.metafile.inputs).filter((input) => forbidden.test(input));
if (strays.length) throw new Error(`the library bundle must not contain ${strays.join(', ')}: something in src/index.ts's imports reaches them`);

// The wrapper names every export of the bundle, read from the bundle itself: it cannot miss one.
const names = Object.keys(require(outfile)).sort();
writeFileSync(
  join(outDir, 'index.mjs'),
  `// The ES module entry of pokequeue (written by scripts/bundle-lib.js): the CommonJS bundle's exports.\n` +
    `import lib from './index.js';\n\nexport const { ${names.join(', ')} } = lib;\n`,
);
writeFileSync(
  join(dist, 'src', 'index.d.mts'),
  `// The types of pokequeue's ES module entry (written by scripts/bundle-lib.js): the same as the CommonJS entry's.\n` +
    `export * from './index.js';\n`,
);
const bytes = result.metafile.outputs[relative(root, outfile)]?.bytes ?? 0;
console.log(`library: ${relative(root, outfile)} (${Math.round(bytes / 1024)} KB), exports ${names.join(', ')}`);
