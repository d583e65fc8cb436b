/**
 * Scenario 4, enqueue rate: 100,000 ids through pokequeue's enqueueBatch against bare BullMQ
 * addBulk with the same chunking (1000), job ids and job options, each into a fresh prefix,
 * both in this process over the same kind of connection. No workers run.
 */
import { IdSet } from '../../src/ids/id-set';
import { ADD_BULK_CHUNK, ADD_BULK_IN_FLIGHT, enqueueBatch } from '../../src/queue/producer';
import { openApp } from '../lib/app';
import type { Scenario, ScenarioContext } from '../lib/context';
import { benchEnv, dropPrefix, freshPrefix } from '../lib/infra';
import type { Check, ScenarioReport } from '../lib/report';
import { fmt, med, pairedRatio, sample } from '../lib/stats';
import { addRaw } from './queue-overhead';

/** No request is made: the API URL only has to parse. */
const UNUSED_API = 'http://127.0.0.1:9/api/v2';

export const enqueue: Scenario = {
  key: 'enqueue',
  title: '4. Enqueue rate',
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const t0 = performance.now();
    const count = ctx.opts.quick ? 20_000 : 100_000;
    const reps = ctx.opts.quick ? 2 : 3;
    const ids = Array.from({ length: count }, (_, i) => i + 1);
    const ours: number[] = [];
    const raw: number[] = [];
    const rawOverlapped: number[] = [];

    const timeOne = async (kind: 'ours' | 'raw' | 'raw-overlapped'): Promise<number> => {
      const prefix = freshPrefix(`enqueue-${kind}`);
      const app = await openApp(benchEnv(ctx.redis.url, UNUSED_API, prefix));
      try {
        await app.queue.waitUntilReady();
        const started = performance.now();
        if (kind === 'ours') {
          const r = await enqueueBatch(app, { ids: IdSet.of(ids), refresh: false, spec: 'bench' });
          if (r.added !== count) throw new Error(`enqueueBatch added ${r.added} of ${count}`);
        } else {
          await addRaw(app, ids, 'bench-raw', ADD_BULK_CHUNK, kind === 'raw' ? 1 : ADD_BULK_IN_FLIGHT);
        }
        const ms = performance.now() - started;
        const waiting = await app.queue.getWaitingCount();
        if (waiting !== count) throw new Error(`${kind}: ${waiting} jobs waiting, expected ${count}`);
        return (count / ms) * 1000;
      } finally {
        await app.close();
        await dropPrefix(ctx.redis.client, prefix);
      }
    };

    await timeOne('raw'); // unmeasured: JIT and Redis warm-up
    for (let rep = 0; rep < reps; rep++) {
      const order: ('ours' | 'raw' | 'raw-overlapped')[] = rep % 2 === 0 ? ['ours', 'raw', 'raw-overlapped'] : ['raw-overlapped', 'raw', 'ours'];
      for (const kind of order) ({ ours, raw, 'raw-overlapped': rawOverlapped })[kind].push(await timeOne(kind));
      ctx.log(`  rep ${rep + 1}/${reps}: enqueueBatch ${fmt(ours.at(-1)!)}/s, addBulk ${fmt(raw.at(-1)!)}/s, addBulk ${ADD_BULK_IN_FLIGHT} in flight ${fmt(rawOverlapped.at(-1)!)}/s`);
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
        'Baseline: `queue.addBulk` alone, same chunks, job ids and options, one call at a time; and for information the same with as many calls in flight as enqueueBatch keeps. Both run in the bench process, each into a fresh prefix, alternating which goes first.',
      settings: [
        ['ids', `${fmt(count)} (1–${count}), none stored or queued before`],
        ['chunking', `${ADD_BULK_CHUNK} jobs per addBulk call; the baseline awaits them one after another (as the issue states it), enqueueBatch keeps ${ADD_BULK_IN_FLIGHT} in flight, and a second baseline does the same as enqueueBatch`],
        ['job options', 'pokequeue\'s jobOptions() (attempts 5, exponential backoff, removeOnComplete 1000, removeOnFail 10000), jobId `pokemon-<id>`'],
        ['runs', `${reps} per contender after one unmeasured addBulk run`],
      ],
      checks,
      tables: [
        {
          title: 'Time to enqueue (medians)',
          header: ['contender', 'jobs/s', 'seconds'],
          rows: [
            ['enqueueBatch', fmt(med(sample(ours, ''))), (count / med(sample(ours, ''))).toFixed(2)],
            ['addBulk', fmt(med(sample(raw, ''))), (count / med(sample(raw, ''))).toFixed(2)],
            [`addBulk, ${ADD_BULK_IN_FLIGHT} in flight`, fmt(med(sample(rawOverlapped, ''))), (count / med(sample(rawOverlapped, ''))).toFixed(2)],
          ],
        },
      ],
      notes: [],
      tookMs: performance.now() - t0,
    };
  },
};
