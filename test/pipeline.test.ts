import type { Redis } from 'ioredis';
import { normalizePokemon } from '../src/pokeapi/normalize';
import { freePort } from '../src/redis/local-server';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { syntheticPokemon } from '../src/simulator/payload';
import type { Command } from 'commander';
import { CLI, runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

/** Every key but BullMQ's two that expire by themselves (the stalled-check lock, the limiter window). */
async function snapshotKeys(client: Redis): Promise<string[]> {
  return (await client.keys('*')).filter((k) => !k.endsWith(':stalled-check') && !k.endsWith(':limiter')).sort();
}

/**
 * The whole pipeline as a user runs it: a producer CLI, two separate worker processes, a real
 * redis-server and the simulated PokeAPI over loopback.
 */
describe('the pipeline: enqueue → worker processes → store', () => {
  let redis: TestRedis;
  let sim: RunningSimulator;
  let env: Record<string, string>;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    sim = await startSimulator({ latencyMs: 15, jitterMs: 10 });
    env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'pqtest', RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn', JOB_BACKOFF_MS: '50' };
    workers.push(await startWorker({ ...env, LOG_LEVEL: 'info' }, ['--concurrency', '5']));
    workers.push(await startWorker({ ...env, LOG_LEVEL: 'info' }, ['--concurrency', '5']));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await redis.stop();
    await sim.close();
  });

  describe('a batch with a known range and an unknown id', () => {
    let result: Awaited<ReturnType<typeof runCli>>;
    let requests: number;
    beforeAll(async () => {
      result = await runCli(['enqueue', '1-40,99999', '--wait'], env);
      requests = sim.stats().requests;
    });

    it('exits 1 because one job failed, and says which and why', () => {
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('41 requested, 41 added');
      expect(result.stdout).toMatch(/succeeded 40, failed 1/);
      expect(result.stdout).toMatch(/not_found\s+1/);
      expect(result.stdout).toMatch(/wait\s+p50/);
      expect(result.stdout).toMatch(/fetch\s+p50/);
    });

    it('fetches every id exactly once', () => {
      const byId = sim.stats().byId;
      for (let id = 1; id <= 40; id++) expect(byId[String(id)]).toBe(1);
    });

    it('fails a 404 at once, without retries', async () => {
      // 40 found ids plus exactly one request for the unknown one.
      expect(requests).toBe(41);
      expect(sim.stats().byStatus['404']).toBe(1);
      const failed = await redis.client.hget('pqtest:pokemon:pokemon-99999', 'failedReason');
      expect(failed).toBe('no Pokémon with id 99999');
      expect(await redis.client.hget('pqtest:pokemon:pokemon-99999', 'atm')).toBe('1');
    });

    it('stores each record correctly, found by id and by name', async () => {
      const byId = await runCli(['get', '25', '--json'], env);
      expect(byId.code).toBe(0);
      const record = JSON.parse(byId.stdout);
      const expected = normalizePokemon(syntheticPokemon(25, sim.url), 25, `${sim.url}/pokemon/25/`);
      expect({ ...record, fetchedAt: undefined }).toEqual({ ...expected, fetchedAt: undefined });
      const byName = await runCli(['get', expected.name, '--json'], env);
      expect(JSON.parse(byName.stdout).id).toBe(25);
    });

    it('keeps no payload in the job (the return value is a few numbers)', async () => {
      const rv = await redis.client.hget('pqtest:pokemon:pokemon-1', 'returnvalue');
      expect(rv === null || rv.length < 100).toBe(true);
    });
  });

  it('serves a second run of the same batch from the store, with no HTTP request', async () => {
    const before = sim.stats().requests;
    const again = await runCli(['enqueue', '1-40', '--wait'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('40 requested, 0 added, 0 already queued, 40 already stored');
    expect(sim.stats().requests).toBe(before);
  });

  it('fetches stored ids again with --refresh', async () => {
    const before = sim.stats().byId['3'];
    const r = await runCli(['enqueue', '1-5', '--refresh', '--wait'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('5 added');
    expect(sim.stats().byId['3']).toBe(before! + 1);
  });

  it('reports live workers, counts and stored records as JSON', async () => {
    const s = await runCli(['status', '--json'], env);
    expect(s.code).toBe(0);
    const status = JSON.parse(s.stdout);
    expect(status.workers).toBe(2);
    expect(status.stored).toBe(40);
    expect(status.counts).toEqual(expect.objectContaining({ waiting: 0, active: 0, failed: 1 }));
  });

  it('exports every record sorted by id, as JSON lines and CSV', async () => {
    const jsonl = await runCli(['export'], env);
    const ids = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l).id);
    expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const csv = await runCli(['export', '--format', 'csv'], env);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^id,name,species/);
    expect(lines).toHaveLength(41);
  });

  describe('bad input', () => {
    it.each([
      [['enqueue', 'ab$c']], // (`abc` would be a name: library.test.ts has those)
      [['enqueue', '1-10,0']],
      [['enqueue', '']],
      [['enqueue', '10-1', '--wait']],
      [['enqueue', '1-3', '--bogus-flag']],
      [['export', '--format', 'xml']],
      [['get', 'no such name!']],
    ])('pokequeue %j exits 2 with a clear message and leaves Redis as it was', async (args) => {
      const before = await snapshotKeys(redis.client);
      const waitingBefore = await redis.client.llen('pqtest:pokemon:wait');
      const r = await runCli(args, env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/error/i);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(await snapshotKeys(redis.client)).toEqual(before);
      expect(await redis.client.llen('pqtest:pokemon:wait')).toBe(waitingBefore);
    });

    it('a bad environment value names the variable and exits 2', async () => {
      const r = await runCli(['enqueue', '1'], { ...env, WORKER_CONCURRENCY: 'lots' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('WORKER_CONCURRENCY');
    });
  });

  it('fails within seconds, clearly and without the password, when Redis is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = await runCli(['enqueue', '1-3', '--wait'], { ...env, REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` }, 20_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach Redis');
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a worker stops gracefully on SIGTERM and exits 0', async () => {
    const w = await startWorker({ ...env, LOG_LEVEL: 'info' });
    const code = await w.stop('SIGTERM');
    // The whole output on failure: a signal landing in the wrong place is otherwise invisible.
    expect({ code, signal: w.child.signalCode, output: w.output() }).toEqual(expect.objectContaining({ code: 0 }));
    expect(w.output()).toContain('worker stopped cleanly');
  });

  describe('with --json, stdout is one JSON document and nothing else', () => {
    /** Every command with --json, how to run it, and what its document holds. */
    const runs: Record<string, { args: string[]; code: number; check(doc: any, stderr: string): void }[]> = {
      enqueue: [
        {
          args: ['enqueue', '41-45', '--json'],
          code: 0,
          check: (doc) => expect(doc).toMatchObject({ batchId: expect.any(String), requested: 5, added: 5, alreadyQueued: 0, alreadyStored: 0 }),
        },
        {
          // The README's `enqueue 1-151 --wait --json > summary.json`: the human line and the
          // progress go to stderr, the summary is the document.
          args: ['enqueue', '46-50', '--wait', '--json'],
          code: 0,
          check: (doc, stderr) => {
            expect(doc).toMatchObject({ batchId: expect.any(String), requested: 5, completed: 5, failed: 0 });
            expect(stderr).toMatch(/^batch b-\S+: 5 requested, 5 added/m);
          },
        },
        {
          args: ['enqueue', '51,99998', '--wait', '--json'],
          code: 1,
          check: (doc) => expect(doc).toMatchObject({ completed: 1, failed: 1, failures: { not_found: 1 } }),
        },
      ],
      status: [{ args: ['status', '--json'], code: 0, check: (doc) => expect(doc).toMatchObject({ workers: expect.any(Number), counts: expect.any(Object), stored: expect.any(Number) }) }],
      get: [{ args: ['get', '25', '--json'], code: 0, check: (doc) => expect(doc).toMatchObject({ id: 25 }) }],
    };

    it('covers every command that has --json', () => {
      const program = (require(CLI) as { buildProgram(): Command }).buildProgram();
      const withJson = program.commands.filter((c) => c.options.some((o) => o.long === '--json')).map((c) => c.name());
      expect(withJson.sort()).toEqual(Object.keys(runs).sort());
    });

    it.each(Object.values(runs).flat().map((r) => [r.args.join(' '), r] as const))('pokequeue %s', async (_label, run) => {
      const r = await runCli(run.args, env);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: run.code, stderr: expect.any(String) });
      // One line, one document: JSON.parse fails on a human line before it or a second document after it.
      expect(r.stdout.endsWith('\n')).toBe(true);
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
      run.check(JSON.parse(r.stdout), r.stderr);
    });

    it('prints nothing on stdout when there is no document to give (exit 1, the reason on stderr)', async () => {
      const r = await runCli(['get', '9999', '--json'], env);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('not stored: 9999');
    });
  });
});
