/**
 * Scenario 5, memory: a worker at concurrency 200 on realistic payloads (every id the API
 * serves, ~150 MB of JSON), its RSS sampled from /proc/<pid>/status while it works; and what one
 * stored record costs Redis, without raw payloads.
 */
import { resolve } from 'node:path';
import { knownIds } from '../../src/simulator/payload';
import { startSimulator } from '../../src/simulator/server';
import { keysFor } from '../../src/redis/schema';
import { openApp, runBatch, warmApi } from '../lib/app';
import { PROBE, type Scenario, type ScenarioContext } from '../lib/context';
import { benchEnv, dropPrefix, freshPrefix, probeSnapshot, sleep } from '../lib/infra';
import { procMemory, sampleMemory, startWorker } from '../lib/processes';
import type { Check, ScenarioReport, Table } from '../lib/report';
import { fmt, med, sample } from '../lib/stats';

const CONCURRENCY = 200;

interface Variant {
  name: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  concurrency?: number;
}

/**
 * Settings a deployment can change without touching the code. glibc gives each thread that
 * allocates its own malloc arena, and zlib's inflate runs on libuv's pool threads. Concurrency
 * bounds how many payloads are in memory at once.
 */
const VARIANTS: Variant[] = [
  { name: 'MALLOC_ARENA_MAX=2', env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'concurrency 50 instead of 200', concurrency: 50 },
];
const LATENCY_MS = 50;

export const memory: Scenario = {
  key: 'memory',
  title: '5. Memory',
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const t0 = performance.now();
    const reps = ctx.opts.quick ? 1 : 3;
    const sim = await startSimulator({ latencyMs: LATENCY_MS, dataDir: ctx.opts.dataDir });
    const tables: Table[] = [];
    const notes: string[] = [];
    try {
      const ids = ctx.opts.quick ? knownIds().slice(0, 400) : knownIds();
      await warmApi(sim.url, ids, 64);
      const peakRss: number[] = [];
      const hwm: number[] = [];
      const idleRss: number[] = [];
      const peakHeap: number[] = [];
      const peakHeapTotal: number[] = [];
      const peakExternal: number[] = [];
      const eldMax: number[] = [];
      const seconds: number[] = [];
      let redisRows: string[][] = [];
      let perRecord = NaN;
      let perRecordInfo = NaN;
      let namesPerRecord = NaN;

      const variantRows: string[][] = [];
      // The measured runs (default settings), then one run per deployment variant.
      const plan: { variant: Variant | null }[] = [...Array.from({ length: reps }, () => ({ variant: null })), ...VARIANTS.map((variant) => ({ variant }))];
      for (let rep = 0; rep < plan.length; rep++) {
        const variant = plan[rep]!.variant;
        const prefix = freshPrefix('memory');
        const env = benchEnv(ctx.redis.url, sim.url, prefix);
        const app = await openApp(env);
        const probeFile = resolve(ctx.opts.workDir, 'memory-probe.json');
        const worker = await startWorker({
          env: { ...env, LOG_LEVEL: 'info', BENCH_PROBE_OUT: probeFile, ...(variant?.env ?? {}) },
          concurrency: variant?.concurrency ?? CONCURRENCY,
          nodeArgs: ['--require', PROBE, ...(variant?.nodeArgs ?? [])],
        });
        try {
          await sleep(300);
          idleRss.push((procMemory(worker.pid)?.rssKb ?? NaN) / 1024);
          const usedBefore = await usedMemory(ctx);
          await probeSnapshot(worker.pid, probeFile);
          const mem = sampleMemory(worker.pid, 25);
          const run = await runBatch(app, ids, { refresh: true, timeoutMs: 600_000 });
          const m = mem.stop();
          const snap = await probeSnapshot(worker.pid, probeFile);
          if (run.failed) throw new Error(`${run.failed} jobs failed`);
          if (variant) {
            variantRows.push([variant.name, `${fmt(m.peakRssKb / 1024)} MB`, snap ? `${fmt(snap.peakHeapUsedMb)} MB` : 'n/a', snap ? `${fmt(snap.peakExternalMb)} MB` : 'n/a', `${fmt(run.ms / 1000, 2)} s`]);
            ctx.log(`  variant ${variant.name}: peak RSS ${fmt(m.peakRssKb / 1024)} MB, ${fmt(run.ms)} ms`);
            continue;
          }
          peakRss.push(m.peakRssKb / 1024);
          hwm.push(m.hwmKb / 1024);
          seconds.push(run.ms / 1000);
          if (snap) {
            peakHeap.push(snap.peakHeapUsedMb);
            peakHeapTotal.push(snap.peakHeapTotalMb);
            peakExternal.push(snap.peakExternalMb);
            eldMax.push(snap.eld.max);
          }
          ctx.log(`  rep ${rep + 1}/${reps}: peak RSS ${fmt(m.peakRssKb / 1024)} MB, VmHWM ${fmt(m.hwmKb / 1024)} MB, ${fmt(run.ms)} ms for ${ids.length} jobs`);

          if (rep === reps - 1) {
            // Redis: the last run's keys, measured exactly (SAMPLES 0 walks every field).
            const keys = keysFor(prefix);
            const count = await ctx.redis.client.hlen(keys.records);
            const recordsBytes = Number(await ctx.redis.client.call('MEMORY', 'USAGE', keys.records, 'SAMPLES', '0'));
            const namesBytes = Number(await ctx.redis.client.call('MEMORY', 'USAGE', keys.names, 'SAMPLES', '0'));
            perRecord = recordsBytes / count;
            namesPerRecord = namesBytes / count;
            perRecordInfo = ((await usedMemory(ctx)) - usedBefore) / count;
            redisRows = await breakdown(ctx, prefix, count);
          }
        } finally {
          await worker.stop();
          await app.close();
          await dropPrefix(ctx.redis.client, prefix);
        }
      }

      const checks: Check[] = [
        {
          label: `worker peak RSS at concurrency ${CONCURRENCY} (VmRSS sampled every 25 ms)`,
          ours: sample(peakRss, 'MB'),
          ratio: undefined,
          target: '< 250 MB',
          met: med(sample(peakRss, '')) < 250,
        },
        {
          label: 'Redis bytes per stored record (MEMORY USAGE of the records hash / HLEN)',
          ours: sample([perRecord], 'B'),
          target: '< 2048 B',
          met: perRecord < 2048,
        },
      ];
      tables.push({
        title: 'Worker memory (medians)',
        header: ['idle RSS', 'peak VmRSS', 'VmHWM', 'peak V8 heap used / total', 'peak external (Buffers)', 'event-loop delay max', 'batch time'],
        rows: [
          [
            `${fmt(med(sample(idleRss, '')))} MB`,
            `${fmt(med(sample(peakRss, '')))} MB`,
            `${fmt(med(sample(hwm, '')))} MB`,
            peakHeap.length ? `${fmt(med(sample(peakHeap, '')))} / ${fmt(med(sample(peakHeapTotal, '')))} MB` : 'n/a',
            peakExternal.length ? `${fmt(med(sample(peakExternal, '')))} MB` : 'n/a',
            eldMax.length ? `${fmt(med(sample(eldMax, '')), 1)} ms` : 'n/a',
            `${fmt(med(sample(seconds, '')), 2)} s`,
          ],
        ],
      });
      if (variantRows.length) {
        tables.push({
          title: 'Variants (one run each, same batch): what the worker\'s peak RSS depends on',
          header: ['variant', 'peak VmRSS', 'peak V8 heap used', 'peak external (Buffers)', 'batch time'],
          rows: [
            [
              `default (median of ${reps})`,
              `${fmt(med(sample(peakRss, '')))} MB`,
              peakHeap.length ? `${fmt(med(sample(peakHeap, '')))} MB` : 'n/a',
              peakExternal.length ? `${fmt(med(sample(peakExternal, '')))} MB` : 'n/a',
              `${fmt(med(sample(seconds, '')), 2)} s`,
            ],
            ...variantRows,
          ],
        });
      }
      tables.push({ title: `Redis memory after one batch of ${ids.length} ids, by key group (MEMORY USAGE, SAMPLES 0)`, header: ['keys', 'count', 'bytes', 'bytes per record'], rows: redisRows });
      notes.push(
        `Per record: ${fmt(perRecord)} B in the records hash, plus ${fmt(namesPerRecord)} B in the name index; the INFO used_memory delta over the whole batch (records, names, retained jobs, timings stream, batch keys) is ${fmt(perRecordInfo)} B per record.`,
      );
      return {
        key: this.key,
        title: this.title,
        what:
          'How much memory a busy worker and the store need. One `pokequeue worker` at concurrency 200 fetches every id the API serves; the bench samples the worker\'s /proc/<pid>/status. ' +
          'After the last run, the bench measures the records hash with MEMORY USAGE and compares used_memory before and after.',
        settings: [
          ['ids', `${ids.length} (${ctx.opts.quick ? 'the first 400 known ids' : 'every known id: 1–1025, 10001–10326'}), refresh`],
          ['payloads', ctx.opts.dataDir ? 'real' : 'synthetic, real size distribution (median ~99 KB, largest 665 KB)'],
          ['API latency', `${LATENCY_MS} ms`],
          ['worker', `1 process, concurrency ${CONCURRENCY}, STORE_RAW=false (default), RATE_LIMIT_PER_SECOND=0`],
          ['runs', `${reps}, each with a fresh worker process and prefix`],
        ],
        checks,
        tables,
        notes,
        tookMs: performance.now() - t0,
      };
    } finally {
      await sim.close();
    }
  },
};

async function usedMemory(ctx: ScenarioContext): Promise<number> {
  const info = await ctx.redis.client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Bytes under the prefix grouped by what the keys are: records, names, BullMQ jobs, stats. */
async function breakdown(ctx: ScenarioContext, prefix: string, records: number): Promise<string[][]> {
  const groups = new Map<string, { count: number; bytes: number }>();
  let cursor = '0';
  for (let round = 0; round < 100_000; round++) {
    const [next, keys] = await ctx.redis.client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    for (const key of keys) {
      const bytes = Number(await ctx.redis.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      const group = groupOf(key.slice(prefix.length + 1));
      const g = groups.get(group) ?? { count: 0, bytes: 0 };
      g.count++;
      g.bytes += bytes;
      groups.set(group, g);
    }
    cursor = next;
    if (cursor === '0') break;
  }
  return [...groups]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([group, g]) => [group, fmt(g.count), fmt(g.bytes), fmt(g.bytes / records)]);
}

function groupOf(key: string): string {
  if (key === 'records' || key === 'names' || key === 'raw' || key === 'timings' || key === 'totals' || key === 'workers' || key === 'batches') return key;
  if (key.startsWith('batch:')) return 'batch:*';
  if (/^pokemon:pokemon-\d+:logs$/.test(key)) return 'pokemon:<job>:logs';
  if (/^pokemon:pokemon-\d+$/.test(key)) return 'pokemon:<job> (retained job hashes)';
  if (key.startsWith('pokemon:')) return `pokemon:${key.slice('pokemon:'.length).replace(/:.*$/, '')}`;
  return key;
}
