import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * The directory holding pokequeue's package.json, found by walking up from this file: the same
 * answer from `src/` (ts-jest) and from `dist/src/` (the built CLI).
 * tsc copies no assets to dist/, so the page is always served from the sources; the bundled
 * CLI (dist/src/cli/main.js) finds the same root, and from it the parse thread in dist/.
 */
export function packageRoot(from = __dirname): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'pokequeue') return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find pokequeue's package.json above ${from}`);
  }
}

/** The `/stats` page: HTML, script and styles, shipped as sources. */
export function publicDir(): string {
  return join(packageRoot(), 'src', 'dashboard', 'public');
}

/** chart.js's self-contained UMD build, from our own dependencies: the page works offline. */
export function chartJsFile(): string {
  // chart.js's `exports` map hides dist/ from require.resolve; its main entry sits next to the UMD build.
  // createRequire: inside the esbuild bundle (the built CLI) `require.resolve` does not exist, and
  // /static/chart.umd.js answered 500, leaving /stats without its charts.
  return join(dirname(createRequire(__filename).resolve('chart.js')), 'chart.umd.js');
}

/** The parse thread's script: always tsc's output, which a thread can load (ts-jest's sources it cannot). */
export function parseThreadFile(): string {
  const file = join(packageRoot(), 'dist', 'src', 'pokeapi', 'parse-thread.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
  return file;
}
