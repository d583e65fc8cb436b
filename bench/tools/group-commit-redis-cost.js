'use strict';
/**
 * Redis instructions per job for the worker's group commit (src/queue/group-commit.ts: one HSET
 * of the records, one commit-group.lua call), against the hand-rolled peer's one HSET per job,
 * counted under callgrind (bench/tools/callgrind-redis.js). Groups of G jobs (default 20, about
 * what a worker at concurrency 100 commits per event-loop turn), 2,000 jobs per contender, three
 * rounds:
 * - `group commit`: records, names and outcomes, as the worker writes them;
 * - `outcomes only`: the same jobs without records (what counting costs by itself);
 * - `one HSET per job`: the hand-rolled worker's write, 4 fields per job, pipelined G at a time.
 *
 * With 2,000 jobs the names hash is a listpack (searched linearly) for a quarter of the run, so
 * the claim weighs more here than in a long run: bench/tools/name-claim-redis-cost.js measures
 * it over 20,000 names.
 *
 * usage: npm run build && node bench/tools/group-commit-redis-cost.js [G]
 */
const { startCallgrindRedis, DIST } = require('./callgrind-redis');

const G = Number(process.argv[2] ?? 20);
const COUNT = 2000;

(async () => {
  const { GroupCommit } = require(`${DIST}/src/queue/group-commit`);
  const { RecordStore } = require(`${DIST}/src/store/record-store`);
  const { BatchStore } = require(`${DIST}/src/batch/batch-store`);
  const { normalizePokemon } = require(`${DIST}/src/pokeapi/normalize`);
  const { smallPayload } = require(`${DIST}/bench/lib/small-api`);
  const redis = await startCallgrindRedis();
  const records = Array.from({ length: COUNT }, (_, i) => normalizePokemon(smallPayload(i + 1, 'http://x/api/v2'), i + 1, `http://x/api/v2/pokemon/${i + 1}/`));
  let n = 0;
  try {
    for (let round = 1; round <= 3; round++) {
      for (const who of ['group commit', 'outcomes only', 'one HSET per job']) {
        const prefix = `gcc${++n}`;
        const batches = new BatchStore(redis.client, prefix);
        const commits = new GroupCommit(redis.client, new RecordStore(redis.client, prefix), batches);
        const batchId = 'b-bench000-000000';
        await batches.create({ batchId, spec: 'bench', requested: COUNT, refresh: false });
        await batches.countIn(batchId, COUNT, 0);
        const ir = await redis.measure(async () => {
          for (let i = 0; i < COUNT; i += G) {
            const group = [];
            for (let j = i; j < Math.min(i + G, COUNT); j++) {
              if (who === 'one HSET per job') {
                const r = records[j];
                group.push(redis.client.hset(`${prefix}:hr:${r.id}`, { name: r.name, height: r.height, weight: r.weight, types: r.types.join(',') }));
              } else {
                const job = { id: j + 1, batchId, outcome: 'completed', cached: false, attemptsMade: 0, waitMs: 5, fetchMs: 3, totalMs: 9 };
                group.push(commits.commit(who === 'group commit' ? { record: records[j], job } : { job }));
              }
            }
            await Promise.all(group);
          }
        });
        console.log(`round ${round}: ${who.padEnd(17)} ${Math.round(ir / COUNT).toLocaleString('en-US').padStart(8)} Redis instructions per job (groups of ${G})`);
      }
    }
  } finally {
    await redis.stop();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
