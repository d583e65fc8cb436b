'use strict';
/**
 * Where the name claim's Redis cost goes (includes/claim-names.lua, run inside commit-group for
 * every record stored), counted under callgrind (bench/tools/callgrind-redis.js): the claim as
 * it is, then scripts that do less of it: an HMGET of the names and an HSET of the pairs, the
 * HSET alone, and an empty script given the same arguments. Groups of 20 names, COUNT names
 * in all (default 20,000: a hash of small values stays a listpack, searched linearly, up to
 * hash-max-listpack-entries (512 on Debian's Redis), so a short run makes every name dearer).
 *
 * usage: npm run build && node bench/tools/name-claim-redis-cost.js   (COUNT=20000; ~3 minutes)
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { startCallgrindRedis } = require('./callgrind-redis');

const G = 20;
const COUNT = Number(process.env.COUNT || 20_000);
const claim = readFileSync(join(__dirname, '../../src/redis/lua/includes/claim-names.lua'), 'utf8');
const VARIANTS = {
  'the claim': `${claim}\nreturn claimNames(KEYS[1], KEYS[2], ARGV)`,
  'HMGET + HSET': "local f = {} for i = 1, #ARGV / 2 do f[i] = ARGV[2 * i - 1] end redis.call('HMGET', KEYS[1], unpack(f)) redis.call('HSET', KEYS[1], unpack(ARGV)) return 0",
  'HSET alone': "redis.call('HSET', KEYS[1], unpack(ARGV)) return 0",
  'empty script': 'return 0',
};

(async () => {
  const redis = await startCallgrindRedis();
  let k = 0;
  try {
    for (const [name, lua] of Object.entries(VARIANTS)) {
      const command = `claimVariant${++k}`;
      redis.client.defineCommand(command, { numberOfKeys: 2, lua });
      const ir = await redis.measure(async () => {
        for (let i = 0; i < COUNT; i += G) {
          const args = [];
          for (let j = i; j < i + G; j++) args.push(`bulbasaur-${j + 1}`, String(j + 1));
          await redis.client[command](`ncc${k}:names`, `ncc${k}:records`, ...args);
        }
      });
      console.log(`${name.padEnd(13)} ${Math.round(ir / COUNT).toLocaleString('en-US').padStart(8)} Redis instructions per name (groups of ${G}, ${COUNT} names)`);
    }
  } finally {
    await redis.stop();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
