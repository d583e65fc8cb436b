import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { parseProcesses } from '../src/cli/commands/worker';
import { WORKER_READY_MESSAGE, WorkerSupervisor } from '../src/cli/worker-supervisor';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

/**
 * Scale-out on one machine: `pokequeue worker --processes N` runs N worker processes under a
 * supervisor; they share one queue through Redis like workers on N machines would.
 */

interface Heartbeat {
  id: string;
  host: string;
  pid: number;
  completed: number;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `pokequeue worker --processes n`, resolved once every child has said it is ready. */
async function startSupervisor(env: Record<string, string>, processes: number, concurrency: number): Promise<WorkerProcess> {
  const w = await startWorker({ ...env, LOG_LEVEL: 'info' }, ['--processes', String(processes), '--concurrency', String(concurrency)]);
  await waitFor(`all ${processes} worker processes ready`, () => w.output().includes(`all ${processes} worker processes ready`));
  return w;
}

/** Finished jobs per worker id, from the `k` field of the timings stream. */
/** Completed jobs per worker, from the worker name BullMQ keeps on each job (`processedBy`). */
async function jobsPerWorker(redis: Redis, prefix: string): Promise<Record<string, number>> {
  const ids = await redis.zrange(`${prefix}:pokemon:completed`, '0', '-1');
  const counts: Record<string, number> = {};
  for (const id of ids) {
    const k = (await redis.hget(`${prefix}:pokemon:${id}`, 'pb')) ?? 'unknown';
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('scale-out', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await startTestRedis();
  });

  afterAll(async () => {
    await redis.stop();
  });

  describe('when three worker processes share one batch', () => {
    const prefix = 'pqthree';
    let sim: RunningSimulator;
    let env: Record<string, string>;
    let supervisor: WorkerProcess | undefined;
    let result: Awaited<ReturnType<typeof runCli>>;

    beforeAll(async () => {
      sim = await startSimulator({ latencyMs: 40, jitterMs: 20 });
      env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
      supervisor = await startSupervisor(env, 3, 2);
      result = await runCli(['enqueue', '1-90', '--wait'], env);
    });

    afterAll(async () => {
      await stopSupervisor(supervisor);
      await sim.close();
    });

    it('finishes the batch', () => {
      expect(result.stdout).toMatch(/succeeded 90, failed 0/);
      expect(result.code).toBe(0);
    });

    it('fetches every id exactly once', () => {
      const byId = sim.stats().byId;
      for (let id = 1; id <= 90; id++) expect(byId[String(id)]).toBe(1);
      expect(sim.stats().requests).toBe(90);
    });

    it('spreads the work across all three processes', async () => {
      const perWorker = await jobsPerWorker(redis.client, prefix);
      const counts = Object.values(perWorker);
      expect(counts).toHaveLength(3);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(90);
      // A fair share is 30; each process must have done a real part of it.
      for (const c of counts) expect(c).toBeGreaterThanOrEqual(10);
    });

    /** Heartbeats of processes still running, read straight from Redis (cheaper than the CLI). */
    const heartbeats = async (): Promise<Heartbeat[]> =>
      Object.values(await redis.client.hgetall(`${prefix}:workers`))
        .map((json) => JSON.parse(json) as Heartbeat)
        .filter((h) => isRunning(h.pid));

    it('shows each process in status by host and pid, with its own counts', async () => {
      // Heartbeats are every 2 s: wait for the one after the last job.
      await waitFor('heartbeats counting all 90 jobs', async () => (await heartbeats()).reduce((n, w) => n + w.completed, 0) === 90, 10_000);
      const s = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { workers: number; workerList: Heartbeat[] };
      expect(s.workers).toBe(3);
      const pids = s.workerList.map((w) => w.pid);
      expect(new Set(pids).size).toBe(3);
      expect(pids).not.toContain(supervisor!.child.pid);
      for (const w of s.workerList) {
        expect(w.host).toBe(hostname());
        expect(w.id).toBe(`${w.host}:${w.pid}`);
      }
      const perWorker = await jobsPerWorker(redis.client, prefix);
      for (const w of s.workerList) expect(w.completed).toBe(perWorker[w.id]);
      const text = await runCli(['status'], env);
      for (const w of s.workerList) expect(text.stdout).toContain(`${w.host}:${w.pid}`);
    });

    it('restarts a worker process that crashes, and the new one takes jobs', async () => {
      const before = (await heartbeats()).map((h) => h.pid);
      process.kill(before[0]!, 'SIGKILL');
      await waitFor('the restart', () => /crashed \(killed by SIGKILL\); restarting in \d+ ms/.test(supervisor!.output()));
      await waitFor('the new process to be ready', () => supervisor!.output().includes('ready again'));
      let newPids: number[] = [];
      await waitFor('the new process to beat', async () => {
        newPids = (await heartbeats()).map((h) => h.pid).filter((p) => !before.includes(p));
        return newPids.length > 0;
      }, 10_000);
      expect(newPids).toHaveLength(1);
      const more = await runCli(['enqueue', '91-120', '--wait'], env);
      expect(more.code).toBe(0);
      const perWorker = await jobsPerWorker(redis.client, prefix);
      expect(perWorker[`${hostname()}:${newPids[0]}`]).toBeGreaterThan(0);
    });

    it('stops every process gracefully on SIGTERM and exits 0', async () => {
      const pids = (await heartbeats()).map((h) => h.pid);
      expect(pids).toHaveLength(3);
      expect(await supervisor!.stop('SIGTERM')).toBe(0);
      expect(supervisor!.output()).toContain('all worker processes stopped cleanly');
      for (const pid of pids) expect(isRunning(pid)).toBe(false);
      // Each child took its heartbeat away as it stopped (only the SIGKILLed one is left, stale).
      const left = Object.keys(await redis.client.hgetall(`${prefix}:workers`));
      for (const pid of pids) expect(left).not.toContain(`${hostname()}:${pid}`);
      supervisor = undefined;
    });
  });

  describe('with latency-bound work', () => {
    // Each request takes ~150 ms and each process runs 2 at once: a process can do ~13 jobs/s,
    // so the batch time is set by how many processes share it, not by CPU.
    const ids = 30;
    const latencyMs = 150;
    const durations: Record<number, number> = {};
    let sim: RunningSimulator;

    beforeAll(async () => {
      sim = await startSimulator({ latencyMs });
    });

    afterAll(async () => {
      await sim.close();
      const line = Object.entries(durations).map(([n, ms]) => `${n} process${n === '1' ? '' : 'es'}: ${ms} ms (${((ids / ms) * 1000).toFixed(1)} jobs/s)`);
      console.log(`scale-out, ${ids} ids, ${latencyMs} ms per request, concurrency 2 per process:\n  ${line.join('\n  ')}`);
    });

    it.each([1, 2, 3])('finishes a batch with %i process(es)', async (n) => {
      const prefix = `pqscale${n}`;
      const env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
      const supervisor = await startSupervisor(env, n, 2);
      try {
        const r = await runCli(['enqueue', `1-${ids}`, '--wait', '--json'], env);
        expect(r.code).toBe(0);
        const batchId = JSON.parse(r.stdout.trim().split('\n').pop()!).batchId as string;
        const batch = await redis.client.hmget(`${prefix}:batch:${batchId}`, 'createdAt', 'finishedAt');
        durations[n] = Number(batch[1]) - Number(batch[0]);
        expect(Object.keys(await jobsPerWorker(redis.client, prefix))).toHaveLength(n);
      } finally {
        expect(await supervisor.stop('SIGTERM')).toBe(0);
      }
    });

    it('is faster with two processes than with one', () => {
      // Ideal is 2.0; the figure is printed above. Asserted loosely, well under what it measures.
      expect(durations[1]! / durations[2]!).toBeGreaterThan(1.3);
    });
  });

  it('leaves no orphans: when the supervisor is killed outright, its worker processes stop by themselves', async () => {
    const sim = await startSimulator();
    const env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'pqorphan', LOG_LEVEL: 'warn' };
    const supervisor = await startSupervisor(env, 2, 1);
    try {
      const pids = /all 2 worker processes ready: pids (\d+), (\d+)/.exec(supervisor.output())!.slice(1).map(Number);
      expect(pids.every(isRunning)).toBe(true);
      supervisor.child.kill('SIGKILL');
      await supervisor.exited;
      await waitFor('the worker processes to exit', () => !pids.some(isRunning), 15_000);
      expect(await redis.client.hlen('pqorphan:workers')).toBe(0);
    } finally {
      await sim.close();
    }
  });

  describe('the worker supervisor', () => {
    let dir: string;
    /** A stand-in child: `mode` chooses how it misbehaves. */
    let fixture: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pokequeue-supervisor-'));
      fixture = join(dir, 'child.js');
      writeFileSync(
        fixture,
        `
const mode = process.argv[2];
if (mode === 'crash') setTimeout(() => process.exit(1), 20);
if (mode === 'usage') process.exit(2);
if (mode === 'chatty') {
  console.log(JSON.stringify({ level: 30, msg: 'a json line' }));
  console.error('a text line');
}
let signals = 0;
process.on('SIGTERM', () => {
  signals++;
  if (signals > 1) process.exit(130);
  // 'slow' takes its time to finish jobs in flight, like a real worker.
  setTimeout(() => process.exit(0), mode === 'slow' ? 20000 : 10);
});
// Ready only once the handler exists, as the real worker does (src/cli/commands/worker.ts): sent
// before it, the message could reach a fast supervisor whose SIGTERM then found no handler, and
// the child died at once (seen in CI).
process.send && process.send({ type: ${JSON.stringify(WORKER_READY_MESSAGE)} });
setInterval(() => {}, 1000);
`,
      );
    });

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function supervise(mode: string, processes: number, extra: Partial<ConstructorParameters<typeof WorkerSupervisor>[0]> = {}) {
      let logs = '';
      let out = '';
      const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) }));
      const sink = new Writable({ write: (c, _e, cb) => ((out += c.toString()), cb()) });
      const s = new WorkerSupervisor({
        processes, file: fixture, args: [mode], shutdownTimeoutMs: 30_000, log, stdout: sink, stderr: sink, pretty: false,
        restartDelayMs: 50, ...extra,
      });
      s.start();
      return { s, logs: () => logs, out: () => out };
    }

    it('restarts a crashing child with growing delays, then gives up on the crash loop with exit 1', async () => {
      const { s, logs } = supervise('crash', 1, { maxCrashes: 4, crashWindowMs: 60_000 });
      expect(await s.done).toBe(1);
      const delays = [...logs().matchAll(/restarting in (\d+) ms/g)].map((m) => Number(m[1]));
      expect(delays).toEqual([50, 100, 200]);
      expect(logs()).toMatch(/worker process 1 crashed 4 times in 60 s \(last: exit code 1\): giving up/);
    });

    it('does not call occasional crashes a loop', async () => {
      // Crashes 20 ms after each start; with a 10 ms window, no two crashes fall in one window.
      const { s, logs } = supervise('crash', 1, { maxCrashes: 2, crashWindowMs: 10, restartDelayMs: 20 });
      await waitFor('several restarts', () => (logs().match(/restarted as pid/g) ?? []).length >= 4, 10_000);
      s.stop('SIGTERM');
      await s.done;
      expect(logs()).not.toContain('giving up');
    });

    it('gives up at once on a child that exits 2 (bad configuration)', async () => {
      const { s, logs } = supervise('usage', 2);
      expect(await s.done).toBe(1);
      expect(logs()).toContain('exited with code 2');
      expect(logs()).not.toContain('restarting in');
    });

    it('tags each line of a child with its number, keeping JSON lines JSON', async () => {
      const { s, out, logs } = supervise('chatty', 2);
      await waitFor('both children ready', () => logs().includes('all 2 worker processes ready'), 10_000);
      await waitFor('their output', () => (out().match(/a text line/g) ?? []).length === 2, 10_000);
      s.stop('SIGTERM');
      expect(await s.done).toBe(0);
      const lines = out().trim().split('\n');
      expect(lines).toEqual(expect.arrayContaining(['[process 1] a text line', '[process 2] a text line']));
      const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      expect(json).toEqual(expect.arrayContaining([{ process: 1, level: 30, msg: 'a json line' }, { process: 2, level: 30, msg: 'a json line' }]));
    });

    it('waits for children to finish on the first signal and forces them on the second (exit 130)', async () => {
      const { s, logs } = supervise('slow', 2);
      await waitFor('both children ready', () => logs().includes('all 2 worker processes ready'), 10_000);
      const pids = [...s.pids().values()];
      s.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      expect(pids.every(isRunning)).toBe(true);
      const forcedAt = Date.now();
      s.stop('SIGTERM');
      expect(await s.done).toBe(130);
      expect(Date.now() - forcedAt).toBeLessThan(2000);
      expect(pids.some(isRunning)).toBe(false);
    });
  });

  describe('--processes', () => {
    it('means one process per core with no value or "auto"', () => {
      expect(parseProcesses(true, 8)).toBe(8);
      expect(parseProcesses('auto', 8)).toBe(8);
      expect(parseProcesses('3', 8)).toBe(3);
    });

    it.each(['0', '-1', '1.5', '257', 'lots', ''])('refuses %j', (value) => {
      expect(() => parseProcesses(value, 8)).toThrow(/--processes must be a whole number from 1 to 256, or auto/);
    });

    it.each(['0', 'lots'])('refuses %j with exit 2 before starting anything', async (value) => {
      const r = await runCli(['worker', '--processes', value], { REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'info' }, 10_000);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--processes must be a whole number');
      expect(r.stderr).not.toContain('starting');
    });
  });
});

/** SIGTERM, then SIGKILL if it has not exited in 10 s (its children then stop by themselves). */
async function stopSupervisor(w: WorkerProcess | undefined): Promise<void> {
  if (!w) return;
  const timer = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
  await w.stop('SIGTERM');
  clearTimeout(timer);
}
