/**
 * `npm run bench`: starts a private redis-server and the simulator on loopback, runs every
 * scenario against its baseline in the same run, and writes the Markdown report.
 *
 *   node dist/bench/run.js [--quick] [--only <key>[,<key>...]] [--real] [--profile | --no-profile] [--out <file>]
 *
 * --quick      fewer repetitions and smaller volumes: a smoke run (~2 min)
 * --only       scenarios by key: tutorial, queue-overhead, scale-out, enqueue, memory, cache, peers, big-batch
 * --real       serve the real payloads from ../shared/pokeapi/pokemon instead of synthetic ones
 * --profile    also take CPU profiles (on by default in a full run, off with --quick)
 * --out        where the report goes; default bench/RESULTS.md for a full run, and
 *              dist/bench/RESULTS-partial.md for --quick or --only, so a smoke run never
 *              replaces the figures the README quotes
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { BenchOptions, Scenario, ScenarioContext } from './lib/context';
import { startBenchRedis } from './lib/infra';
import { describeMachine } from './lib/machine';
import { killTrackedChildren, ROOT } from './lib/processes';
import { renderReport, type ScenarioReport, type Table } from './lib/report';
import { bigBatch } from './scenarios/big-batch';
import { cache } from './scenarios/cache';
import { enqueue } from './scenarios/enqueue';
import { memory } from './scenarios/memory';
import { peers } from './scenarios/peers';
import { queueOverhead } from './scenarios/queue-overhead';
import { scaleOut } from './scenarios/scale-out';
import { tutorial } from './scenarios/tutorial';

const SCENARIOS: Scenario[] = [tutorial, queueOverhead, scaleOut, enqueue, memory, cache, peers, bigBatch];
const REAL_DATA_DIR = resolve(ROOT, '../shared/pokeapi/pokemon');

function parseArgs(argv: string[]): BenchOptions & { out: string | undefined } {
  let quick = false;
  let real = false;
  let profile: boolean | undefined;
  let out: string | undefined;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--real') real = true;
    else if (arg === '--profile') profile = true;
    else if (arg === '--no-profile') profile = false;
    else if (arg === '--only') only.push(...value().split(',').map((s) => s.trim()).filter(Boolean));
    else if (arg === '--out') out = value();
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node dist/bench/run.js [--quick] [--only <key,...>] [--real] [--profile|--no-profile] [--out <file>]\n');
      process.stdout.write(`scenarios: ${SCENARIOS.map((s) => s.key).join(', ')}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  for (const key of only) {
    if (!SCENARIOS.some((s) => s.key === key)) throw new Error(`unknown scenario "${key}"; known: ${SCENARIOS.map((s) => s.key).join(', ')}`);
  }
  if (real && !existsSync(REAL_DATA_DIR)) throw new Error(`--real needs the real payloads in ${REAL_DATA_DIR}`);
  return {
    quick,
    only,
    dataDir: real ? REAL_DATA_DIR : undefined,
    profile: profile ?? !quick,
    workDir: resolve(ROOT, 'dist/bench/work'),
    out,
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const t0 = performance.now();
  mkdirSync(opts.workDir, { recursive: true });
  const log = (m: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

  const redis = await startBenchRedis();
  log(`redis-server ${redis.version} on ${redis.url} (pid ${redis.server.process.pid})`);
  const scenarios: ScenarioReport[] = [];
  const failures: { key: string; error: string }[] = [];
  const profiles: Table[] = [];
  const profileNotes: string[] = [];
  try {
    const ctx: ScenarioContext = {
      opts,
      redis,
      reps: opts.quick ? 2 : 5,
      log,
      addProfile(tables, notes = []) {
        profiles.push(...tables);
        profileNotes.push(...notes);
      },
    };
    for (const scenario of SCENARIOS) {
      if (opts.only.length && !opts.only.includes(scenario.key)) continue;
      log(`${scenario.title}…`);
      try {
        const report = await scenario.run(ctx);
        scenarios.push(report);
        for (const c of report.checks) {
          log(`  ${c.label}: ${c.ratio === undefined ? '' : `${c.ratio.toFixed(2)}x `}target ${c.target} → ${c.met === null ? 'info' : c.met ? 'met' : 'NOT met'}`);
        }
      } catch (err) {
        const error = (err as Error).stack ?? String(err);
        log(`  failed: ${error}`);
        failures.push({ key: scenario.key, error });
      }
    }
  } finally {
    const machine = describeMachine(redis.version, ROOT);
    await redis.stop();
    const partial = opts.quick || opts.only.length > 0;
    const out = resolve(ROOT, opts.out ?? (partial ? 'dist/bench/RESULTS-partial.md' : 'bench/RESULTS.md'));
    const argv = process.argv.slice(2);
    const markdown = renderReport({
      startedAt,
      command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
      mode: [opts.quick ? 'quick' : 'full', opts.dataDir ? 'real payloads' : 'synthetic payloads', opts.profile ? 'with profiles' : 'no profiles'].join(', '),
      machine,
      scenarios,
      failures,
      profiles,
      profileNotes,
      changes: existsSync(resolve(ROOT, 'bench/CHANGES.md')) ? readFileSync(resolve(ROOT, 'bench/CHANGES.md'), 'utf8') : undefined,
      tookMs: performance.now() - t0,
      load: { start: loadAtStart, end: loadavg()[0]! },
    });
    writeFileSync(out, markdown);
    log(`report written to ${out}`);
  }
  if (failures.length) process.exitCode = 1;
}

// Ctrl-C or a kill: end every process the bench started before going, never orphan them.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killTrackedChildren();
    process.exit(130);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(2);
});
