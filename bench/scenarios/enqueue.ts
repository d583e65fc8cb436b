/**
 * Scenario 4, enqueue rate: 100,000 ids through pokequeue's enqueueBatch against bare BullMQ
 * addBulk in chunks of 1000 with the same job ids and job options, each into a fresh prefix,
 * both in this process over the same kind of connection. No workers run. Also how much each
 * delays the event loop of the process that enqueues (a program that enqueues from its server).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { IdSet } from '../../src/ids/id-set';
import { ADD_BULK_CHUNK, ADD_BULK_IN_FLIGHT, enqueueBatch } from '../../src/queue/producer';
import { addRaw, openApp } from '../lib/app';
import type { Scenario, ScenarioContext } from '../lib/context';
import { benchEnv, dropPrefix, freshPrefix } from '../lib/infra';
import type { Check, ScenarioReport } from '../lib/report';
import { fmt, med, pairedRatio, sample } from '../lib/stats';

/** No request is made: the API URL only has to parse. */
const UNUSED_API = 'http://127.0.0.1:9/api/v2';
/** The baselines' jobs per addBulk call: what the issue measured, and a round number a user would pick. */
const BASELINE_CHUNK = 1000;

/** enqueueBatch, and bare addBulk with one call or ADD_BULK_IN_FLIGHT calls in flight. */
type Kind = 'ours' | 'raw' | 'raw-overlapped';

export const enqueue: Scenario = {
  key: 'enqueue',
  title: '4. Enqueue rate',
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const t0 = performance.now();
    const count = ctx.opts.quick ? 20_000 : 100_000;
    const reps = ctx.opts.quick ? 2 : 3;
    const ids = Array.from({ length: count }, (_, i) => i + 1);
    /** Jobs added per second, per contender and run. */
    const rate: Record<Kind, number[]> = { ours: [], raw: [], 'raw-overlapped': [] };
    /** p99 of this process's event-loop delay while each enqueued, ms. */
    const loopDelay: Record<Kind, number[]> = { ours: [], raw: [], 'raw-overlapped': [] };
    const { ours, raw, 'raw-overlapped': rawOverlapped } = rate;

    const timeOne = async (kind: Kind): Promise<{ rate: number; loopDelayMs: number }> => {
      const prefix = freshPrefix(`enqueue-${kind}`);
      const app = await openApp(benchEnv(ctx.redis.url, UNUSED_API, prefix));
      try {
        await app.queue.waitUntilReady();
        const delay = monitorEventLoopDelay({ resolution: 1 });
        delay.enable();
        const started = performance.now();
        if (kind === 'ours') {
          const r = await enqueueBatch(app, { ids: IdSet.of(ids), refresh: false, spec: 'bench' });
          if (r.added !== count) throw new Error(`enqueueBatch added ${r.added} of ${count}`);
        } else {
          await addRaw(app, ids, 'bench-raw', BASELINE_CHUNK, kind === 'raw' ? 1 : ADD_BULK_IN_FLIGHT);
        }
        const ms = performance.now() - started;
        delay.disable();
        const waiting = await app.queue.getWaitingCount();
        if (waiting !== count) throw new Error(`${kind}: ${waiting} jobs waiting, expected ${count}`);
        return { rate: (count / ms) * 1000, loopDelayMs: delay.percentile(99) / 1e6 };
      } finally {
        await app.close();
        await dropPrefix(ctx.redis.client, prefix);
      }
    };

    await timeOne('raw'); // unmeasured: JIT and Redis warm-up
    for (let rep = 0; rep < reps; rep++) {
      const order: Kind[] = rep % 2 === 0 ? ['ours', 'raw', 'raw-overlapped'] : ['raw-overlapped', 'raw', 'ours'];
      for (const kind of order) {
        const run = await timeOne(kind);
        rate[kind].push(run.rate);
        loopDelay[kind].push(run.loopDelayMs);
      }
      const p99 = (kind: Kind) => `${fmt(loopDelay[kind].at(-1)!, 1)} ms`;
      ctx.log(
        `  rep ${rep + 1}/${reps}: enqueueBatch ${fmt(ours.at(-1)!)}/s (event-loop delay p99 ${p99('ours')}), addBulk ${fmt(raw.at(-1)!)}/s (${p99('raw')}), ` +
          `addBulk ${ADD_BULK_IN_FLIGHT} in flight ${fmt(rawOverlapped.at(-1)!)}/s (${p99('raw-overlapped')})`,
      );
    }
    const ratio = pairedRatio(ours, raw);
    const checks: Check[] = [
      {
        label: `enqueue rate, ${fmt(count)} ids, enqueueBatch vs bare addBulk`,
        ours: sample(ours, 'jobs/s'),
        baselineName: 'queue.addBulk',
        baseline: sample(raw, 'jobs/s'),
        ratio,
        ratioMeaning: 'our rate / addBulk rate',
        target: '≥ 0.9x',
        met: ratio >= 0.9,
      },
      {
        // The producer keeps two addBulk calls in flight; this row shows what its checks cost
        // against bare BullMQ doing the same, so the overlap is not mistaken for free speed.
        label: `same, vs bare addBulk with ${ADD_BULK_IN_FLIGHT} chunks in flight as enqueueBatch does`,
        ours: sample(ours, 'jobs/s'),
        baselineName: `queue.addBulk, ${ADD_BULK_IN_FLIGHT} in flight`,
        baseline: sample(rawOverlapped, 'jobs/s'),
        ratio: pairedRatio(ours, rawOverlapped),
        ratioMeaning: 'our rate / overlapped addBulk rate',
        target: 'info',
        met: null,
      },
    ];
    return {
      key: this.key,
      title: this.title,
      what:
        'How fast a batch gets into Redis. Ours: `enqueueBatch` from src/queue/producer.ts (checks the store and existing jobs, writes the batch hash, then addBulk in chunks). ' +
        'Baseline: `queue.addBulk` alone, 1000 jobs per call, same job ids and options, one call at a time; and for information the same with as many calls in flight as enqueueBatch keeps. All run in the bench process, each into a fresh prefix, alternating which goes first. ' +
        'Beside the rate: how late the enqueueing process\'s own timers ran meanwhile, which is what a server that enqueues from a request handler would add to its other requests.',
      settings: [
        ['ids', `${fmt(count)} (1–${count}), none stored or queued before`],
        ['chunking', `enqueueBatch: ${ADD_BULK_CHUNK} jobs per addBulk call, ${ADD_BULK_IN_FLIGHT} calls in flight; the baseline: ${BASELINE_CHUNK} per call awaited one after another (as the issue states it), and a second baseline ${BASELINE_CHUNK} per call with ${ADD_BULK_IN_FLIGHT} in flight`],
        ['event-loop delay', 'perf_hooks.monitorEventLoopDelay (1 ms resolution) in the enqueueing process, p99 over each run: how late its timers and I/O callbacks ran meanwhile'],
        ['job options', 'pokequeue\'s jobOptions() (attempts 5, exponential backoff, removeOnComplete 1000, removeOnFail 10000), jobId `pokemon-<id>`'],
        ['runs', `${reps} per contender after one unmeasured addBulk run`],
      ],
      checks,
      tables: [
        {
          title: 'Time to enqueue (medians)',
          header: ['contender', 'jobs/s', 'seconds', 'event-loop delay p99, ms'],
          rows: [
            ['enqueueBatch', fmt(med(sample(ours, ''))), (count / med(sample(ours, ''))).toFixed(2), fmt(med(sample(loopDelay.ours, '')), 1)],
            [`addBulk, ${BASELINE_CHUNK} per call`, fmt(med(sample(raw, ''))), (count / med(sample(raw, ''))).toFixed(2), fmt(med(sample(loopDelay.raw, '')), 1)],
            [`addBulk, ${BASELINE_CHUNK} per call, ${ADD_BULK_IN_FLIGHT} in flight`, fmt(med(sample(rawOverlapped, ''))), (count / med(sample(rawOverlapped, ''))).toFixed(2), fmt(med(sample(loopDelay['raw-overlapped'], '')), 1)],
          ],
        },
      ],
      notes: [],
      tookMs: performance.now() - t0,
    };
  },
};
