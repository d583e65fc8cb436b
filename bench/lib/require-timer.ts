/**
 * A preload (`node --require dist/bench/lib/require-timer.js ...`) that times how long each
 * package takes to load the first time pokequeue's own code requires it, and who required it.
 * On exit it writes the list to the JSON file named by BENCH_REQUIRE_OUT. It shows what a
 * short-lived command like `enqueue` pays before doing anything.
 */
import { writeFileSync } from 'node:fs';
import Module = require('node:module');

export interface RequireTiming {
  module: string;
  /** Inclusive load time, its own dependencies included. */
  ms: number;
  /** The pokequeue file that required it first. */
  from: string;
}

const out = process.env.BENCH_REQUIRE_OUT;
if (out) {
  const startedAt = performance.now();
  const timings: RequireTiming[] = [];
  const seen = new Set<string>();
  type Require = (this: NodeJS.Module, id: string) => unknown;
  const proto = (Module as unknown as { prototype: { require: Require } }).prototype;
  const original = proto.require;
  proto.require = function timedRequire(this: NodeJS.Module, id: string): unknown {
    const ownCode = this.filename?.includes('/dist/src/') ?? false;
    const first = ownCode && !id.startsWith('.') && !id.startsWith('node:') && !seen.has(id);
    if (first) seen.add(id);
    const t0 = performance.now();
    try {
      return original.call(this, id);
    } finally {
      if (first) timings.push({ module: id, ms: performance.now() - t0, from: this.filename.replace(/^.*\/dist\//, '') });
    }
  };
  process.on('exit', () => {
    const sorted = timings.filter((t) => t.ms >= 1).sort((a, b) => b.ms - a.ms);
    writeFileSync(out, JSON.stringify({ sinceStartMs: performance.now() - startedAt, processUptimeMs: process.uptime() * 1000, timings: sorted }));
  });
}
