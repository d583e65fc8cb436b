import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedisCluster, type LocalRedisCluster } from './helpers/redis-cluster';

const PREFIX = '{pqc}';

/**
 * The whole pipeline against a local three-master Redis Cluster: every key pokequeue and BullMQ
 * write shares the `{pqc}` hash tag, so Lua scripts, MULTI blocks and pipelines stay in one slot.
 */
describe('against a Redis Cluster', () => {
  let cluster: LocalRedisCluster;
  let sim: RunningSimulator;
  let env: Record<string, string>;
  let supervisor: WorkerProcess | undefined;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
    sim = await startSimulator({ latencyMs: 10, jitterMs: 10 });
    env = {
      REDIS_CLUSTER_NODES: cluster.seeds,
      // Only the password and TLS come from REDIS_URL with a cluster; pointed at a node of ours anyway.
      REDIS_URL: cluster.nodes[0]!.url,
      QUEUE_PREFIX: PREFIX,
      POKEAPI_URL: sim.url,
      RATE_LIMIT_PER_SECOND: '0',
      JOB_BACKOFF_MS: '50',
      LOG_LEVEL: 'warn',
    };
    supervisor = await startWorker({ ...env, LOG_LEVEL: 'info' }, ['--processes', '2', '--concurrency', '4']);
    await waitForOutput(supervisor, 'all 2 worker processes ready');
  });

  afterAll(async () => {
    await stopSupervisor(supervisor);
    await sim?.close();
    await cluster?.stop();
  });

  describe('a batch run through worker processes', () => {
    let result: Awaited<ReturnType<typeof runCli>>;
    beforeAll(async () => {
      result = await runCli(['enqueue', '1-60,99999', '--wait'], env);
    });

    it('finishes with every id stored or failed, and the usual summary', () => {
      expect(result.stderr).not.toMatch(/unexpected error|CROSSSLOT|MOVED/);
      expect(result.stdout).toContain('61 requested, 61 added');
      expect(result.stdout).toMatch(/succeeded 60, failed 1/);
      expect(result.code).toBe(1);
    });

    it('fetches every id exactly once', () => {
      const byId = sim.stats().byId;
      for (let id = 1; id <= 60; id++) expect(byId[String(id)]).toBe(1);
    });

    it('keeps every key in the one slot of the hash tag, on the node that owns it', async () => {
      const perNode = await Promise.all(
        cluster.nodes.map(async (n) => {
          const c = new Redis(n.url, { maxRetriesPerRequest: 1 });
          try {
            return { keys: await c.keys('*'), slot: await c.cluster('KEYSLOT', PREFIX) };
          } finally {
            c.disconnect();
          }
        }),
      );
      const withKeys = perNode.filter((n) => n.keys.length > 0);
      expect(withKeys).toHaveLength(1);
      expect(withKeys[0]!.keys.every((k) => k.startsWith(`${PREFIX}:`))).toBe(true);
      expect(withKeys[0]!.keys).toEqual(expect.arrayContaining([`${PREFIX}:records`, `${PREFIX}:pokemon:meta`]));
    });
  });

  it('gets a record by id and by name', async () => {
    const byId = await runCli(['get', '25', '--json'], env);
    expect(byId.code).toBe(0);
    const record = JSON.parse(byId.stdout);
    expect(record.id).toBe(25);
    const byName = await runCli(['get', record.name, '--json'], env);
    expect(JSON.parse(byName.stdout).id).toBe(25);
  });

  it('serves a second batch of the same ids from the store', async () => {
    const before = sim.stats().requests;
    const again = await runCli(['enqueue', '1-60', '--wait'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('60 requested, 0 added, 0 already queued, 60 already stored');
    expect(sim.stats().requests).toBe(before);
  });

  it('queues a failed id again (the kept failed job is removed first)', async () => {
    const r = await runCli(['enqueue', '99999', '--wait'], env);
    expect(r.stdout).toContain('1 requested, 1 added');
    expect(r.stdout).toMatch(/succeeded 0, failed 1/);
    expect(r.code).toBe(1);
  });

  it('lets a second batch wait on ids another batch already queued', async () => {
    // Paused, so the first batch's jobs are surely still queued when the second batch asks.
    const admin = await connectCluster(cluster);
    const queue = new Queue('pokemon', { connection: admin, prefix: PREFIX });
    try {
      await queue.pause();
      expect((await runCli(['enqueue', '61-100'], env)).code).toBe(0);
      const batchesBefore = await admin.zcard(`${PREFIX}:batches`);
      const second = runCli(['enqueue', '61-110', '--wait'], env);
      for (const end = Date.now() + 20_000; (await admin.zcard(`${PREFIX}:batches`)) === batchesBefore; ) {
        if (Date.now() > end) throw new Error('the second batch was never created');
        await new Promise((r) => setTimeout(r, 50));
      }
      await queue.resume();
      const r = await second;
      expect(r.stdout).toContain('50 requested, 10 added, 40 already queued, 0 already stored');
      expect(r.stdout).toMatch(/succeeded 50, failed 0/);
      expect(r.code).toBe(0);
      for (let id = 61; id <= 110; id++) expect(sim.stats().byId[String(id)]).toBe(1);
    } finally {
      await queue.resume();
      await queue.close();
      admin.disconnect();
    }
  });

  it('reports both worker processes, counts and records in status --json', async () => {
    const s = await runCli(['status', '--json'], env);
    expect(s.code).toBe(0);
    const status = JSON.parse(s.stdout);
    expect(status.workers).toBe(2);
    expect(new Set(status.workerList.map((w: { pid: number }) => w.pid)).size).toBe(2);
    expect(status.stored).toBe(110);
    expect(status.counts).toEqual(expect.objectContaining({ waiting: 0, active: 0, failed: 1 }));
  });

  it('exports every record sorted by id', async () => {
    const jsonl = await runCli(['export'], env);
    expect(jsonl.code).toBe(0);
    const ids = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l).id);
    expect(ids).toEqual(Array.from({ length: 110 }, (_, i) => i + 1));
  });

  it('puts a second queue with another hash tag on another master (sharding by ids)', async () => {
    const shard = '{pokequeue-1}';
    const r = await runCli(['enqueue', '1-5'], { ...env, QUEUE_PREFIX: shard });
    expect(r.code).toBe(0);
    const owners = await Promise.all(
      cluster.nodes.map(async (n) => {
        const c = new Redis(n.url, { maxRetriesPerRequest: 1 });
        try {
          return { pqc: (await c.keys(`${PREFIX}:*`)).length > 0, shard: (await c.keys(`${shard}:*`)).length > 0 };
        } finally {
          c.disconnect();
        }
      }),
    );
    expect(owners.filter((o) => o.shard)).toHaveLength(1);
    expect(owners.findIndex((o) => o.shard)).not.toBe(owners.findIndex((o) => o.pqc));
  });

  it('refuses a prefix without a hash tag before touching the cluster', async () => {
    const r = await runCli(['status'], { ...env, QUEUE_PREFIX: 'pqc' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('QUEUE_PREFIX');
    // Nothing under the untagged prefix was written anywhere in the cluster.
    const c = await connectCluster(cluster);
    try {
      const found = await Promise.all(c.nodes('master').map((n) => n.keys('pqc:*')));
      expect(found.flat()).toEqual([]);
    } finally {
      c.disconnect();
    }
  });

  it('stops every worker process gracefully on SIGTERM', async () => {
    const code = await supervisor!.stop('SIGTERM');
    expect(code).toBe(0);
    expect(supervisor!.output()).toContain('all worker processes stopped');
    supervisor = undefined;
  });
});

async function waitForOutput(w: WorkerProcess, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!w.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in ${timeoutMs} ms:\n${w.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function connectCluster(cluster: LocalRedisCluster): Promise<Cluster> {
  const c = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }], { redisOptions: { maxRetriesPerRequest: null } });
  await new Promise((r) => c.once('ready', r));
  return c;
}

/** SIGTERM, then SIGKILL if it has not exited in 10 s (its children then stop by themselves). */
async function stopSupervisor(w: WorkerProcess | undefined): Promise<void> {
  if (!w) return;
  const timer = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
  await w.stop('SIGTERM');
  clearTimeout(timer);
}
