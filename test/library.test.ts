import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { keysFor, CATALOG_FIELD } from '../src/redis/schema';
import { libraryLogger } from '../src/api/logger';
import { nameForId } from '../src/simulator/payload';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import type { PokemonRecord } from '../src/types';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

const ROOT = resolve(__dirname, '..');
/** The built library, the file package.json's `main` names: what `require('pokequeue')` loads (npm test builds it). */
const LIB = resolve(ROOT, (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { main: string }).main);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require(LIB) as typeof import('../src/index');
type PokeQueue = import('../src/index').PokeQueue;

const name = (id: number) => nameForId(id)!;
/** Requests the simulator answered that were not for one Pokémon: pages of its list. */
const listRequests = (sim: RunningSimulator) => {
  const s = sim.stats();
  return s.requests - Object.values(s.byId).reduce((a, b) => a + b, 0);
};
/** The simulator lists 1351 Pokémon; the client asks 1000 a page. */
const PAGES_PER_LIST = 2;

/**
 * pokequeue from a program, through the built bundle a program loads, against a real Redis, the
 * simulator over HTTP and a worker process: every call of PokeQueue, names in specs (CLI and
 * library alike), and what importing it loads. package.test.ts runs the same calls from a
 * project that installed the packed tarball.
 */
describe('PokeQueue, the library', () => {
  let redis: TestRedis;
  let sim: RunningSimulator;
  let worker: WorkerProcess;
  let env: Record<string, string>;
  let pq: PokeQueue;
  const PREFIX = 'lib';

  beforeAll(async () => {
    redis = await startTestRedis();
    sim = await startSimulator({ latencyMs: 5 });
    env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: PREFIX, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
    worker = await startWorker({ ...env, LOG_LEVEL: 'info' });
    pq = await lib.PokeQueue.connect({ redisUrl: redis.url, prefix: PREFIX, pokeapiUrl: sim.url });
  });

  afterAll(async () => {
    await pq?.close();
    await worker?.stop('SIGKILL');
    await redis?.stop();
    await sim?.close();
  });

  describe('enqueue, progress and done', () => {
    it('enqueues ids, ranges and names; progress() ends with the finished batch; done() is what `enqueue --wait --json` prints', async () => {
      const batch = await pq.enqueue(['1-10', name(25), 30], { refresh: false });
      expect(batch).toMatchObject({ requested: 12, added: 12, alreadyQueued: 0, alreadyStored: 0 });
      expect(batch.id).toMatch(/^b-/);
      const seen: { done: number; total: number; finished: boolean }[] = [];
      for await (const p of batch.progress()) seen.push(p);
      expect(seen.at(-1)).toMatchObject({ batchId: batch.id, done: 12, total: 12, completed: 12, failed: 0, fraction: 1, etaMs: 0, finished: true });
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.done).toBeGreaterThanOrEqual(seen[i - 1]!.done);
      const summary = await batch.done();
      expect(summary).toMatchObject({ batchId: batch.id, spec: `1-10 ${name(25)} 30`, requested: 12, completed: 12, failed: 0, failures: {} });

      const cli = await runCli(['enqueue', '40-45', name(50), '--wait', '--json'], env);
      expect(cli.code).toBe(0);
      const printed = JSON.parse(cli.stdout) as Record<string, unknown>;
      expect(printed).toMatchObject({ requested: 7, completed: 7 });
      // One type, one producer: the same fields in the same order, nested ones too.
      const shape = (o: unknown): unknown => (o && typeof o === 'object' && !Array.isArray(o) ? Object.entries(o).map(([k, v]) => [k, k === 'failures' ? {} : shape(v)]) : typeof o);
      expect(shape(printed)).toEqual(shape(summary));
    });

    it('follows a batch another process enqueued: progress() and done() together and alone, by several consumers', async () => {
      const cli = await runCli(['enqueue', '100-160', '--refresh', '--json'], env);
      expect(cli.code).toBe(0);
      const enqueued = JSON.parse(cli.stdout) as { batchId: string; requested: number; added: number; alreadyQueued: number; alreadyStored: number };
      const [one, two] = await Promise.all([pq.batch(enqueued.batchId), pq.batch(enqueued.batchId)]);
      expect(one).toMatchObject({ id: enqueued.batchId, requested: 61, added: enqueued.added, alreadyQueued: enqueued.alreadyQueued, alreadyStored: enqueued.alreadyStored });
      const follow = async (b: typeof one, slowMs = 0) => {
        const steps: number[] = [];
        for await (const p of b.progress()) {
          steps.push(p.done);
          if (slowMs) await new Promise((r) => setTimeout(r, slowMs));
        }
        return steps;
      };
      const [fast, slow, other, s1, s2, s3] = await Promise.all([follow(one), follow(one, 150), follow(two), one.done(), one.done(), two.done()]);
      for (const steps of [fast, slow, other]) expect(steps.at(-1)).toBe(61);
      // A slow reader is not handed a backlog: it gets the state as it is when it asks again.
      expect(slow.length).toBeLessThanOrEqual(fast.length);
      expect(s1).toBe(s2); // one shared wait
      expect(s3).toEqual(s1);
      expect(s1).toMatchObject({ batchId: enqueued.batchId, completed: 61, failed: 0 });
      // Alone, after the end: done() at once, progress() with the final state only.
      const late = await pq.batch(enqueued.batchId);
      expect(await late.done()).toEqual(s1);
      expect(await follow(late)).toEqual([61]);
    });

    it('stops following on a signal, ending only that consumer', async () => {
      // No worker serves this prefix: the batch never ends by itself.
      const idle = await lib.PokeQueue.connect({ redisUrl: redis.url, prefix: 'idle', pokeapiUrl: sim.url });
      try {
        const batch = await idle.enqueue('1-3');
        const stop = new AbortController();
        const shared = batch.done();
        const mine = batch.done({ signal: stop.signal });
        const steps: number[] = [];
        const following = (async () => {
          for await (const p of batch.progress({ signal: stop.signal })) steps.push(p.done);
        })();
        await new Promise((r) => setTimeout(r, 300));
        stop.abort(new Error('enough'));
        await expect(mine).rejects.toThrow('enough');
        await expect(following).rejects.toThrow('enough');
        expect(steps).toEqual([0]);
        // The shared wait goes on until the PokeQueue closes, and then says why it ended.
        await idle.close();
        await expect(shared).rejects.toThrow('PokeQueue.close() was called while this batch was being followed');
        await expect(idle.get(1)).rejects.toThrow('this PokeQueue is closed');
        await idle.close(); // twice is fine
      } finally {
        await idle.close();
      }
    });

    it('says BatchNotFoundError for a batch id that names no batch', async () => {
      await expect(pq.batch('b-mx0000aa-000000')).rejects.toThrow(lib.BatchNotFoundError);
      await expect(pq.batch('b-mx0000aa-000000')).rejects.toThrow('batch b-mx0000aa-000000 does not exist (or expired)');
      await expect(pq.batch('../\u001b[2J')).rejects.toThrow('batch "../\\x1b[2J" does not exist (or expired)');
    });

    it('rejects a bad spec before anything is enqueued, with InvalidSpecError', async () => {
      const batchesBefore = await redis.client.zcard(keysFor(PREFIX).batches);
      for (const specs of [['1-'], [0], [1.5], ['1-10', 'pika$chu'], [], [{}]] as unknown as string[][]) {
        await expect(pq.enqueue(specs)).rejects.toThrow(lib.InvalidSpecError);
      }
      await expect(pq.enqueue('1', { refresh: 'yes' as unknown as boolean })).rejects.toThrow('refresh must be true or false');
      expect(await redis.client.zcard(keysFor(PREFIX).batches)).toBe(batchesBefore);
    });
  });

  describe('get, records and status', () => {
    it('gets a record by id or name (any case), null when it is not stored', async () => {
      expect(await pq.get(25)).toMatchObject({ id: 25, name: name(25) });
      expect(await pq.get('25')).toMatchObject({ id: 25 });
      expect(await pq.get(name(25).toUpperCase())).toMatchObject({ id: 25 });
      expect(await pq.get(999)).toBeNull();
      expect(await pq.get(name(999))).toBeNull(); // a Pokémon, not fetched yet
      await expect(pq.get('../x')).rejects.toThrow(lib.InvalidSpecError);
    });

    it('streams every record in id order, in fixed memory, past the scan chunk and around junk fields', async () => {
      const many = await lib.PokeQueue.connect({ redisUrl: redis.url, prefix: 'many', pokeapiUrl: sim.url });
      try {
        // 12,000 records in random order (a hashtable in Redis, so the scan takes several calls)
        // and fields that are no record of pokequeue's.
        const ids = new Set<number>();
        while (ids.size < 12_000) ids.add(1 + Math.floor(Math.random() * 1_000_000));
        const pipe = redis.client.pipeline();
        for (const id of ids) pipe.hset('many:records', String(id), JSON.stringify({ id, name: `n${id}` }));
        pipe.hset('many:records', 'abc', '{}', '0', '{}', '1000001', '{}', '007', '{}');
        await pipe.exec();
        const got: number[] = [];
        for await (const r of many.records()) got.push((r as PokemonRecord).id);
        expect(got).toEqual([...ids].sort((a, b) => a - b));
      } finally {
        await many.close();
      }
      const stored: number[] = [];
      for await (const r of pq.records()) stored.push(r.id);
      expect(stored.slice(0, 3)).toEqual([1, 2, 3]);
      expect(stored).toEqual([...stored].sort((a, b) => a - b));
      expect(stored.length).toBe(await redis.client.hlen(`${PREFIX}:records`));
    });

    it('status() is what `status --json` prints', async () => {
      const [status, cli] = await Promise.all([pq.status(), runCli(['status', '--json'], env)]);
      const printed = JSON.parse(cli.stdout) as typeof status;
      expect(Object.keys(status)).toEqual(Object.keys(printed));
      expect(status).toMatchObject({ workers: 1, stored: printed.stored, counts: printed.counts, paused: false, batchesInProgress: [] });
      expect(Object.keys(status.workerList[0]!).sort()).toEqual(Object.keys(printed.workerList[0]!).sort());
    });
  });

  describe('connect', () => {
    it.each([
      [{ prefix: 'a b' }, /^prefix: must be 1-64 letters/],
      [{ redisUrl: 'localhost:6379' }, /^redisUrl: must be a redis:\/\/ or rediss:\/\/ URL/],
      [{ redisUrl: 6379 }, /^redisUrl: must be a string \(got number\)/],
      [{ pokeapiUrl: 'pokeapi.co' }, /^pokeapiUrl: must be an http:\/\/ or https:\/\/ URL/],
      [{ clusterNodes: ['127.0.0.1:7000'], prefix: 'nohashtag' }, /^prefix: must contain a \{hash-tag\} when REDIS_CLUSTER_NODES is set, .*\(try "\{nohashtag\}"\)/],
      [{ redisURL: 'redis://x' }, /^"redisURL": is not an option of PokeQueue.connect \(its options: redisUrl, clusterNodes, prefix, pokeapiUrl, logger\)/],
      [{ logger: { warn() {} } }, /^logger: must have error, warn, info and debug methods/],
      ['redis://127.0.0.1:6379', /^options: PokeQueue.connect takes an object/],
    ])('refuses %j with a ConfigError naming the option', async (options, message) => {
      const err = await lib.PokeQueue.connect(options as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(lib.ConfigError);
      expect((err as Error).message).toMatch(message);
    });

    it('falls back to the environment, validated as the CLI validates it', async () => {
      const names = ['QUEUE_PREFIX', 'REDIS_URL', 'POKEAPI_URL'] as const;
      const saved = names.map((n) => process.env[n]);
      try {
        process.env.QUEUE_PREFIX = 'a b';
        await expect(lib.PokeQueue.connect({ redisUrl: redis.url })).rejects.toThrow(/^QUEUE_PREFIX: must be 1-64 letters/);
        Object.assign(process.env, { QUEUE_PREFIX: PREFIX, REDIS_URL: redis.url, POKEAPI_URL: sim.url });
        const fromEnv = await lib.PokeQueue.connect();
        try {
          expect(await fromEnv.get(25)).toMatchObject({ id: 25 });
        } finally {
          await fromEnv.close();
        }
      } finally {
        names.forEach((n, i) => (saved[i] === undefined ? delete process.env[n] : (process.env[n] = saved[i])));
      }
    });

    it("says RedisUnavailableError, in Redis's own words when it answered", async () => {
      const locked = await startTestRedis(['--requirepass', 'sesame']);
      try {
        const noAuth = await lib.PokeQueue.connect({ redisUrl: locked.url }).catch((e: unknown) => e);
        expect(noAuth).toBeInstanceOf(lib.RedisUnavailableError);
        expect((noAuth as Error).message).toMatch(/NOAUTH/);
        const wrong = await lib.PokeQueue.connect({ redisUrl: locked.url.replace('redis://', 'redis://:opensesame@') }).catch((e: unknown) => e);
        expect((wrong as Error).message).toMatch(/WRONGPASS/);
        expect((wrong as Error).message).not.toContain('opensesame');
      } finally {
        await locked.stop();
      }
      const nobody = await lib.PokeQueue.connect({ redisUrl: 'redis://127.0.0.1:1' }).catch((e: unknown) => e);
      expect(nobody).toBeInstanceOf(lib.RedisUnavailableError);
      expect((nobody as Error).message).toMatch(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:1 /);
    });

    it("hands log lines to the caller's logger, and is silent without one", () => {
      const lines: unknown[][] = [];
      const record = (level: string) => (...args: unknown[]) => lines.push([level, ...args]);
      const log = libraryLogger({ error: record('error'), warn: record('warn'), info: record('info'), debug: record('debug') });
      log.warn({ batchId: 'b-1' }, 'cannot read batch progress; retrying');
      log.info('reconnected');
      log.debug({ err: 'x' }, 'redis connection error');
      log.fatal('gone');
      expect(lines).toEqual([
        ['warn', { batchId: 'b-1' }, 'cannot read batch progress; retrying'],
        ['info', 'reconnected'],
        ['debug', { err: 'x' }, 'redis connection error'],
        ['error', 'gone'],
      ]);
      expect(libraryLogger(undefined).level).toBe('silent');
    });
  });

  describe('names in specs, through the CLI and the library', () => {
    const catalog = keysFor(PREFIX).nameCatalog;
    const batchCount = () => redis.client.zcard(keysFor(PREFIX).batches);
    const jobCount = async () => (await redis.client.keys(`${PREFIX}:pokemon:pokemon-*`)).length;

    it('`enqueue NAME NAME 1-3` enqueues them, and `get NAME` reads one', async () => {
      const r = await runCli(['enqueue', name(150), name(151), '1-3', '--refresh', '--wait', '--json'], env);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ requested: 5, completed: 5, spec: `${name(150)} ${name(151)} 1-3` });
      const got = await runCli(['get', name(151).toUpperCase(), '--json'], env);
      expect(got.code).toBe(0);
      expect(JSON.parse(got.stdout)).toMatchObject({ id: 151, name: name(151) });
    });

    it('reads the list once and then answers from Redis: no request for a name it knows', async () => {
      expect(await redis.client.hget(catalog, CATALOG_FIELD.source)).toBe(sim.url);
      expect(await redis.client.hlen(catalog)).toBe(1351 + 2);
      const before = listRequests(sim);
      const r = await runCli(['enqueue', name(7), '--json'], env);
      expect(JSON.parse(r.stdout)).toMatchObject({ requested: 1, alreadyStored: 1 });
      expect(listRequests(sim)).toBe(before);
    });

    it('an unknown name is exit 2, quoted with the nearest known names, after one more read of the list, and enqueues nothing', async () => {
      const typo = `${name(25).slice(0, -1)}x`;
      const [batches, jobs, before] = [await batchCount(), await jobCount(), listRequests(sim)];
      const r = await runCli(['enqueue', '1-3', typo, 'zzzzzz'], env);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const line = `error: no Pokémon is named "${typo}"; nearest known names: ${name(25)}`;
      expect(r.stderr.startsWith(line)).toBe(true);
      expect(r.stderr).toMatch(/; no Pokémon is named "zzzzzz" \(no known name is close\)\n$/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      // Refreshed once for the command, however many names it did not know.
      expect(listRequests(sim)).toBe(before + PAGES_PER_LIST);
      expect([await batchCount(), await jobCount()]).toEqual([batches, jobs]);

      const got = await runCli(['get', typo], env);
      expect(got.code).toBe(2);
      expect(got.stderr.startsWith(line)).toBe(true);
    });

    it('reads the list again when a name is unknown, so a PokeAPI release is picked up', async () => {
      // A catalog from before a release: it lacks #9's name.
      await redis.client.del(catalog);
      await redis.client.hset(catalog, CATALOG_FIELD.source, sim.url, CATALOG_FIELD.fetchedAt, '0', name(1), '1');
      const before = listRequests(sim);
      const r = await runCli(['enqueue', name(9), name(1), '--json'], env);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ requested: 2 });
      expect(listRequests(sim)).toBe(before + PAGES_PER_LIST);
      expect(await redis.client.hget(catalog, name(9))).toBe('9');
    });

    it('does not use a catalog read from another API', async () => {
      await redis.client.hset(catalog, CATALOG_FIELD.source, 'https://pokeapi.co/api/v2');
      const before = listRequests(sim);
      const r = await runCli(['enqueue', name(7), '--json'], env);
      expect(r.code).toBe(0);
      expect(listRequests(sim)).toBe(before + PAGES_PER_LIST);
      expect(await redis.client.hget(catalog, CATALOG_FIELD.source)).toBe(sim.url);
    });

    it('in the library: UnknownNameError with the nearest names, and at most one read of the list per refresh interval', async () => {
      const typo = `${name(50)}z`;
      const fresh = await lib.PokeQueue.connect({ redisUrl: redis.url, prefix: PREFIX, pokeapiUrl: sim.url });
      try {
        const before = listRequests(sim);
        const err = await fresh.enqueue(['1', typo]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(lib.UnknownNameError);
        expect(err).toBeInstanceOf(lib.InvalidSpecError);
        const unknown = (err as InstanceType<typeof lib.UnknownNameError>).unknown;
        expect(unknown).toEqual([{ name: typo, nearest: expect.arrayContaining([name(50)]) }]);
        expect(unknown[0]!.nearest[0]).toBe(name(50));
        expect(listRequests(sim)).toBe(before + PAGES_PER_LIST);
        // The list was just read: the same typo again, by get or enqueue, does not read it again.
        await expect(fresh.get(typo)).rejects.toThrow(lib.UnknownNameError);
        await expect(fresh.enqueue(typo)).rejects.toThrow(`no Pokémon is named "${typo}"`);
        expect(listRequests(sim)).toBe(before + PAGES_PER_LIST);
        expect((await fresh.enqueue(name(50))).requested).toBe(1);
      } finally {
        await fresh.close();
      }
    });

    it('`all` reads the list once and refreshes the catalog with it, names beside it included', async () => {
      const other = await lib.PokeQueue.connect({ redisUrl: redis.url, prefix: 'everything', pokeapiUrl: sim.url });
      try {
        const before = listRequests(sim);
        const b = await other.enqueue(['all', name(10326)]);
        expect(b).toMatchObject({ requested: 1351, added: 1351 });
        expect(listRequests(sim)).toBe(before + PAGES_PER_LIST);
        expect(await redis.client.hlen(keysFor('everything').nameCatalog)).toBe(1351 + 2);
      } finally {
        await other.close();
      }
    });

    it('a list that cannot be read is PokeApiUnavailableError (exit 1); one that cannot be trusted, BadListError (exit 2)', async () => {
      const offline = await lib.PokeQueue.connect({ redisUrl: redis.url, prefix: 'offline', pokeapiUrl: 'http://127.0.0.1:1/api/v2' });
      try {
        const err = await offline.enqueue('pikachu').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(lib.PokeApiUnavailableError);
        expect(err).toBeInstanceOf(lib.PokeApiError);
        expect((err as Error).message).toMatch(/^cannot list every id from http:\/\/127\.0\.0\.1:1\/api\/v2: /);
        expect(await offline.get('pikachu')).toBeNull(); // reading needs no API
      } finally {
        await offline.close();
      }
      const r = await runCli(['enqueue', 'pikachu'], { ...env, QUEUE_PREFIX: 'offline', POKEAPI_URL: 'http://127.0.0.1:1/api/v2' });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: cannot list every id from http:\/\/127\.0\.0\.1:1\/api\/v2: /);
      const bad = await lib.PokeQueue.connect({ redisUrl: redis.url, prefix: 'offline', pokeapiUrl: `${sim.url}/pokemon/1` });
      try {
        await expect(bad.enqueue('pikachu')).rejects.toThrow(lib.BadListError);
      } finally {
        await bad.close();
      }
    });
  });

  describe('what importing it costs', () => {
    /** Runs a program that uses the built library in a process of its own, and returns what it printed. */
    function run(program: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((done, fail) => {
        const child = spawn(process.execPath, ['-e', program], { env: { PATH: process.env.PATH, LIB, REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'lazy' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('error', fail);
        child.on('close', (code) => {
          clearTimeout(timer);
          done({ code, stdout, stderr });
        });
      });
    }

    it('loads no dashboard, simulator, undici or pino-pretty until a name must be looked up', async () => {
      await redis.client.del(keysFor('lazy').nameCatalog);
      const r = await run(`
        const packages = () => [...new Set(Object.keys(require.cache).map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean))].sort();
        const stages = {};
        (async () => {
          const { PokeQueue } = require(process.env.LIB);
          stages.required = packages();
          const pq = await PokeQueue.connect();
          stages.connected = packages();
          const batch = await pq.enqueue('1-3');
          await pq.status(); await pq.get(1); for await (const r of pq.records()) {}
          await (await pq.batch(batch.id)).progress().next();
          stages.used = packages();
          await pq.enqueue(${JSON.stringify(name(25))});
          stages.named = packages();
          await pq.close();
          process.stdout.write(JSON.stringify(stages));
        })();
      `);
      expect(r.stderr).toBe(''); // and silent: no logger given, nothing written
      expect(r.code).toBe(0);
      const stages = JSON.parse(r.stdout) as Record<string, string[]>;
      const heavy = /^(undici|express|@bull-board\/.*|prom-client|chart\.js|pino-pretty|cli-progress|commander)$/;
      for (const stage of ['required', 'connected', 'used']) expect({ stage, heavy: stages[stage]!.filter((p) => heavy.test(p)) }).toEqual({ stage, heavy: [] });
      expect(stages.named!.filter((p) => heavy.test(p))).toEqual(['undici']);
    });

    it('bundles no code of the CLI, the dashboard, the simulator or the worker', () => {
      const bundle = readFileSync(LIB, 'utf8');
      // Names only those modules hold: the simulator's control routes, bull-board, the worker, the CLI (commander, cli-progress).
      const strays = ['/__sim/', '@bull-board', 'startPokemonWorker', 'buildProgram', 'CommanderError', 'SingleBar'].filter((s) => bundle.includes(s));
      expect(strays).toEqual([]);
      expect(bundle.includes('PokeQueue=class')).toBe(true); // (the test can fail: the class is there)
    });
  });
});
