'use strict';
/**
 * A redis-server under valgrind's callgrind, for counting the instructions Redis spends on a
 * piece of work: unlike CPU time on a shared 2-core VM (which drifts by a quarter from run to
 * run), the count is the same within ~1-3% from run to run, so changes of a few percent to what
 * each job costs Redis can be told apart. Under callgrind Redis runs ~50x slower, so work that is
 * paced by time (heartbeats, stalled-job checks, polling) weighs far more than at full speed:
 * compare counts from the same tool, not against INFO cpu figures.
 */
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const DIST = resolve(__dirname, '../../dist');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function requireValgrind() {
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not installed (apt-get install -y valgrind)');
}

/** Starts redis-server under callgrind with instrumentation on; `measure(fn)` returns the instructions Redis ran during fn. */
async function startCallgrindRedis() {
  requireValgrind();
  const { startRedisServer } = require(join(DIST, 'src/redis/local-server'));
  const { Redis } = require('ioredis');
  const dir = mkdtempSync(join(tmpdir(), 'pokequeue-callgrind-'));
  const wrapper = join(dir, 'redis-server');
  writeFileSync(wrapper, `#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=${dir}/cg.out.%p redis-server "$@"\n`);
  chmodSync(wrapper, 0o755);
  const server = await startRedisServer({ binary: wrapper, extraArgs: ['--maxmemory-policy', 'noeviction'] });
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  // callgrind reads a control command only while Redis runs code: keep it busy until answered.
  const control = async (...args) => {
    const cp = spawn('callgrind_control', [...args, String(server.process.pid)], { stdio: 'ignore' });
    let done = false;
    cp.on('exit', () => (done = true));
    while (!done) {
      await client.ping();
      await sleep(20);
    }
  };
  const lastDump = () => {
    const files = readdirSync(dir).filter((f) => f.startsWith('cg.out.')).map((f) => join(dir, f));
    files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    return Number(/^summary: (\d+)/m.exec(readFileSync(files[0], 'utf8'))[1]);
  };
  await control('-i', 'on');
  return {
    server,
    client,
    url: server.url,
    async measure(fn) {
      await control('-z');
      await fn();
      await control('-d');
      await sleep(300);
      return lastDump();
    },
    async stop() {
      client.disconnect();
      await server.stop();
    },
  };
}

module.exports = { startCallgrindRedis, DIST, sleep };
