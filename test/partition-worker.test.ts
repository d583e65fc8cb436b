import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { recordGuarantee } from './helpers/guarantees';
import { createNetworkLab, netnsSupport, type LabHost, type LabRedis, type NetworkLab } from './helpers/netns';
import { startDashboardProcess } from './helpers/dashboard-process';
import { cliEnv, runCli, startWorker, type CliResult, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';
import { until } from './helpers/until';
import { Redis } from 'ioredis';

/**
 * Issue 14: a worker on another machine loses its link to Redis and the API without a reset
 * (every packet dropped, as across a real network), then gets it back. Worker B runs in a
 * network namespace of its own, worker C on this host; see test/helpers/netns.ts.
 */
const lab = netnsSupport();
const describeLab = lab.ok ? describe : describe.skip;
if (!lab.ok) console.warn(`worker partition tests skipped: ${lab.reason}`);

const LATE_WRITER = resolve(__dirname, 'fixtures/late-write.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const seconds = (ms: number) => Math.round(ms / 100) / 10;

describeLab('worker partitions', () => {
  let net: NetworkLab;
  let redis: LabRedis;
  let client: Redis;
  let sim: RunningSimulator;

  beforeAll(async () => {
    net = createNetworkLab();
    redis = await net.startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    // The numbers: 300 ms per request, 40 slots per worker.
    sim = await startSimulator({ host: net.hostAddress, latencyMs: 300 });
  });
  afterAll(async () => {
    client?.disconnect();
    await sim?.close();
    await net?.close();
  });

  describe('when a worker is cut off mid-batch for 25 s (half-open: packets dropped, no reset), then healed', () => {
    // Defaults for locks and stalled checks: the recovery users get out of the box.
    const STALLED_MS = 5_000;
    const LOCK_PLUS_STALLED_MS = 10_000 + STALLED_MS;
    const CUT_MS = 25_000;
    const prefix = 'part';
    let hostB: LabHost;
    let b: WorkerProcess;
    let c: WorkerProcess;
    let env: Record<string, string>;
    let batch1: CliResult;
    let batch2: CliResult;
    let orphaned: string[] = [];
    let handedOnMs = 0;
    let orphansStoredMs = 0;
    let batchDoneMs = 0;
    let hiddenMs = 0;
    let listedByDashboardDuringCut: boolean | undefined;
    let firstJobAfterHealMs = -1;
    let duplicates = 0;
    let orphanStalls: number[] = [];
    let bPid = 0;
    let socketsBeforeCut: string[] = [];
    let socketsAfterHeal: string[] = [];

    beforeAll(async () => {
      env = { REDIS_URL: redis.labUrl, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0', WORKER_CONCURRENCY: '40' };
      hostB = net.addHost('worker-b');
      b = await hostB.startWorker(env);
      c = await startWorker(env);
      net.track(c.child.pid);
      bPid = b.child.pid!;
      const bId = `${hostname()}:${bPid}`;
      const dashboard = await startDashboardProcess(env);
      net.track(dashboard.child.pid);

      const batch = runCli(['enqueue', 'all', '--wait'], { ...env, LOG_LEVEL: 'warn' }, 150_000);
      await until(async () => (await client.hlen(`${prefix}:records`)) >= 300, 60_000, '300 records');
      socketsBeforeCut = hostB.tcpConnectionsTo(redis.port);
      hostB.cut();
      const cutAt = Date.now();
      const queue = new Queue('pokemon', { connection: client, prefix });
      orphaned = (await queue.getActive()).filter((j) => j.processedBy === bId).map((j) => String(j.data.id));

      const hidden = until(
        async () => !(JSON.parse((await runCli(['status', '--json'], env)).stdout) as { workerList: { pid: number }[] }).workerList.some((w) => w.pid === bPid),
        30_000,
        'B to drop out of status',
        // Every status is a node process: polled faster, on two shared cores, it slows the fleet it watches.
        1_000,
      ).then(async () => {
        hiddenMs = Date.now() - cutAt;
        const stats = (await (await fetch(`${dashboard.url}/api/stats`)).json()) as { workers: { list: { pid: number }[] } };
        listedByDashboardDuringCut = stats.workers.list.some((w) => w.pid === bPid);
      });
      // Handed on: no longer active under B (back in wait, or taken or finished by C).
      await until(
        async () => {
          const held = await Promise.all(
            orphaned.map(async (id) => (await queue.getJobState(`pokemon-${id}`)) === 'active' && (await client.hget(`${prefix}:pokemon:pokemon-${id}`, 'pb')) === bId),
          );
          return !held.some(Boolean);
        },
        60_000,
        "B's jobs to be handed on",
        250,
      );
      handedOnMs = Date.now() - cutAt;
      orphanStalls = await Promise.all(orphaned.map(async (id) => Number(await client.hget(`${prefix}:pokemon:pokemon-${id}`, 'stc'))));
      await until(
        async () => (await client.hmget(`${prefix}:records`, ...(orphaned.length ? orphaned : ['0']))).every((v) => v !== null),
        60_000,
        "B's jobs to be stored by C",
        100,
      );
      orphansStoredMs = Date.now() - cutAt;
      batch1 = await batch;
      batchDoneMs = Date.now() - cutAt;
      await hidden;
      duplicates = Object.values(sim.stats().byId).filter((n) => n > 1).length;

      // Only B is left once the link heals: whatever runs now, runs on B.
      await sleep(cutAt + CUT_MS - Date.now());
      await c.stop();
      hostB.heal();
      const healedAt = Date.now();
      const done = Number(await client.hget(`${prefix}:stats:totals`, 'completed'));
      const next = runCli(['enqueue', '1-300', '--refresh', '--wait'], { ...env, LOG_LEVEL: 'warn' }, 90_000);
      await until(async () => Number(await client.hget(`${prefix}:stats:totals`, 'completed')) > done, 60_000, 'B to take a job after the heal', 100).catch(() => undefined);
      if (Number(await client.hget(`${prefix}:stats:totals`, 'completed')) > done) firstJobAfterHealMs = Date.now() - healedAt;
      batch2 = await next;
      socketsAfterHeal = hostB.tcpConnectionsTo(redis.port);
      await dashboard.stop();
    }, 240_000);

    it('the rest of the fleet finishes the batch: every id stored once, counters exact, none failed', async () => {
      expect(batch1.code).toBe(0);
      expect(batch1.stdout).toMatch(/succeeded 1351, failed 0/);
      expect(await client.hlen(`${prefix}:records`)).toBe(1351);
      expect(await client.hlen(`${prefix}:names`)).toBe(1351);
    });

    it("hands B's jobs in flight on within about LOCK_DURATION_MS + STALLED_INTERVAL_MS of the cut", () => {
      expect(orphaned.length).toBeGreaterThan(0);
      // The lock B last renewed up to LOCK_DURATION_MS/2 before the cut runs out, and the next
      // stalled check (every STALLED_INTERVAL_MS) puts the job back. That check is a timer in C
      // started after the previous one ended: with other suites on the two cores, CI saw it land
      // 3 s late (17.96 s). So one interval of slack; BullMQ's own defaults (lock 30 s, checks
      // every 30 s) would take 35 s at the least, which this still catches. When C stores the
      // job then depends on how fast C works through the rest of the batch on a shared machine.
      expect(handedOnMs).toBeLessThanOrEqual(LOCK_PLUS_STALLED_MS + STALLED_MS);
      // Handed on by the stalled check, not by B finishing late: each orphan counts one stall.
      expect(orphanStalls).toEqual(orphaned.map(() => 1));
      expect(orphansStoredMs).toBeGreaterThanOrEqual(handedOnMs);
      // Only what B had in flight may have been fetched twice.
      expect(duplicates).toBeLessThanOrEqual(orphaned.length);
    });

    it('does not show B as live while it cannot reach Redis', () => {
      // Its last heartbeat goes stale after 10 s; status polls every 250 ms.
      expect(hiddenMs).toBeGreaterThan(0);
      expect(hiddenMs).toBeLessThanOrEqual(10_000 + 2_000 + 2_000);
      expect(listedByDashboardDuringCut).toBe(false);
    });

    it('B gave up every connection the cut silenced and made new ones (TCP keepalive, socket timeout)', () => {
      // Kept, such a socket resumes only at TCP's next retransmission, which backs off to minutes:
      // before this fix B took its first job 48 s after a 70 s cut healed.
      expect(socketsBeforeCut.length).toBeGreaterThanOrEqual(3);
      expect(socketsAfterHeal.length).toBeGreaterThanOrEqual(3);
      expect(socketsAfterHeal.filter((s) => socketsBeforeCut.includes(s))).toEqual([]);
    });

    it('B takes jobs again within 15 s of the link healing, without a restart, and finishes a batch alone', async () => {
      expect(firstJobAfterHealMs).toBeGreaterThanOrEqual(0);
      expect(firstJobAfterHealMs).toBeLessThanOrEqual(15_000);
      expect(b.child.exitCode).toBeNull();
      expect(b.child.pid).toBe(bPid);
      expect(batch2.code).toBe(0);
      expect(batch2.stdout).toMatch(/succeeded 300, failed 0/);
      const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { workerList: { pid: number }[] };
      expect(status.workerList.map((w) => w.pid)).toContain(bPid);
      recordGuarantee('partition-worker', {
        scenario: 'a worker cut off mid-batch for 25 s, packets dropped (2 workers x 40 slots, 1351 ids, 300 ms API latency)',
        test: 'partition-worker › when a worker is cut off mid-batch for 25 s',
        idsStored: 1351, idsFailed: 0, idsLost: 0, duplicateFetches: duplicates, recoverySeconds: seconds(handedOnMs),
        notes: `${orphaned.length} jobs in flight on B, handed on ${seconds(handedOnMs)} s and stored ${seconds(orphansStoredMs)} s after the cut; batch done ${seconds(batchDoneMs)} s after it; B hidden from status ${seconds(hiddenMs)} s after it; ` +
          `B's first job ${seconds(firstJobAfterHealMs)} s after the heal`,
      });
    });
  });

  // These two run at the same time: independent, and each mostly waits.
  const concurrently: (() => Promise<void>)[] = [];
  describe('while a writer is cut off and a job loop is stuck', () => {
    beforeAll(() => Promise.all(concurrently.map((scenario) => scenario())), 150_000);

    describe('when a command was waiting in a socket the link silenced', () => {
      // The socket is given up after REDIS_SOCKET_TIMEOUT_MS and the command resent on a new one.
      // Closed normally, the old socket's kernel would still retransmit the command after the
      // heal, and Redis would run it again, late, over newer writes. It must be reset instead.
      const CUT_MS = 17_000;
      let host: LabHost;
      let writer: ChildProcess;
      let out = '';
      const seen: string[] = [];
      concurrently.push(async () => {
        host = net.addHost('late-writer');
        writer = spawn(host.launcher[0]!, [...host.launcher.slice(1), process.execPath, LATE_WRITER], {
          env: cliEnv({ REDIS_URL: redis.labUrl, LATE_WRITE_KEY: 'late', LOG_LEVEL: 'warn' }),
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        net.track(writer.pid);
        writer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        await until(() => out.includes('ready'), 20_000, 'the writer to connect');
        host.cut();
        writer.stdin!.write('old\n');
        await sleep(CUT_MS);
        host.heal();
        await until(() => out.includes('old done'), 20_000, 'the resent SET to be answered');
        writer.stdin!.write('new\n');
        await until(() => out.includes('new done'), 10_000, 'the new SET to be answered');
        // The old socket's next retransmission would come within ~13 s of the heal.
        for (let i = 0; i < 40; i++) {
          seen.push((await client.get('late')) ?? 'nil');
          await sleep(500);
        }
      });
      afterAll(() => writer?.kill('SIGKILL'));

      it('the command runs once, on the new connection, and never again after a newer write', () => {
        expect(seen.every((v) => v === 'new')).toBe(true);
      });
    });

    describe("when a worker's job loop is stuck while Redis answers its heartbeats", () => {
      // Redis at its client limit: the worker's blocking connection, once dropped, cannot come back,
      // so BullMQ's job loop waits for it forever, while the connection the heartbeat uses is fine.
      // Before the watchdog such a worker was listed as live and never took another job.
      const STUCK_MS = 15_000;
      const prefix = 'stuck';
      let own: TestRedis;
      let supervisor: WorkerProcess;
      let env: Record<string, string>;
      let firstPid = 0;
      let heartbeatFreshWhileStuck = false;
      let probeWaitingWhileStuck = false;
      let verdictMs = 0;
      let replaced: CliResult;
      let pids: number[] = [];

      concurrently.push(async () => {
        own = await startTestRedis();
        env = { REDIS_URL: own.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0', WORKER_CONCURRENCY: '4', WORKER_STUCK_MS: String(STUCK_MS) };
        supervisor = await startWorker(env, ['--processes', '1']);
        net.track(supervisor.child.pid);
        const childPids = () => [...supervisor.output().matchAll(/(?:started|restarted) as pid (\d+)/g)].map((m) => Number(m[1]));
        await until(async () => (await own.client.hlen(`${prefix}:workers`)) === 1, 20_000, 'the worker heartbeat');
        firstPid = childPids()[0]!;
        // BullMQ names its blocking connection <prefix>:<queue, base64>:w:<worker name>.
        let blocking: string | undefined;
        await until(async () => {
          blocking = ((await own.client.client('LIST')) as string).split('\n').find((l) => / name=\S+:w:\S+/.test(l) && / cmd=bzpopmin/.test(l));
          return blocking !== undefined;
        }, 20_000, "the worker's blocking connection");
        const connected = Number(/connected_clients:(\d+)/.exec(await own.client.info('clients'))![1]);
        // One below the count: once the blocking connection is killed, nobody new gets in.
        await own.client.config('SET', 'maxclients', String(connected - 1));
        await own.client.client('KILL', 'ID', /id=(\d+)/.exec(blocking!)![1]!);
        const stuckAt = Date.now();
        // A job the stuck loop should take, added over a connection that already exists.
        const queue = new Queue('pokemon', { connection: own.client, prefix });
        await queue.add('fetch', { id: 25, batchId: 'b-mx0000aa-000000' }, { jobId: 'pokemon-25' });

        await sleep(STUCK_MS / 2);
        const hb = JSON.parse((await own.client.hget(`${prefix}:workers`, `${hostname()}:${firstPid}`)) ?? '{}') as { lastSeen?: number };
        heartbeatFreshWhileStuck = hb.lastSeen !== undefined && Date.now() - hb.lastSeen < 4_000;
        probeWaitingWhileStuck = (await queue.getJobState('pokemon-25')) === 'waiting';

        await until(() => supervisor.output().includes('job loop stuck'), STUCK_MS * 2, 'the watchdog verdict', 100);
        verdictMs = Date.now() - stuckAt;
        await own.client.config('SET', 'maxclients', '10000');
        // The supervisor starts a fresh process; it takes the probe job and a batch.
        await until(async () => (await queue.getJobState('pokemon-25')) === 'completed', 30_000, 'the replacement to take the probe job');
        replaced = await runCli(['enqueue', '1-20', '--wait'], { ...env, LOG_LEVEL: 'warn' }, 60_000);
        pids = childPids();
        await queue.close();
      });
      afterAll(async () => {
        await supervisor?.stop('SIGKILL');
        await own?.stop();
      });

      it('the stuck worker kept publishing heartbeats and took nothing (the defect the watchdog catches)', () => {
        expect(heartbeatFreshWhileStuck).toBe(true);
        expect(probeWaitingWhileStuck).toBe(true);
      });

      it('stops reporting itself live and exits 1 after WORKER_STUCK_MS', async () => {
        expect(verdictMs).toBeGreaterThanOrEqual(STUCK_MS - 2_000);
        expect(verdictMs).toBeLessThanOrEqual(STUCK_MS + 4_000);
        expect(supervisor.output()).toMatch(new RegExp(`worker process 1 \\(pid ${firstPid}\\) crashed \\(exit code 1\\)`));
        expect(await own.client.hexists(`${prefix}:workers`, `${hostname()}:${firstPid}`)).toBe(0);
      });

      it('its supervisor restarts it, and the new process works', () => {
        expect(new Set(pids).size).toBeGreaterThanOrEqual(2);
        expect(replaced.code).toBe(0);
        expect(replaced.stdout).toMatch(/succeeded 20, failed 0/);
        recordGuarantee('stuck-job-loop', {
          scenario: "a worker's job loop stuck while Redis answers its heartbeats (Redis at maxclients after its blocking connection dropped)",
          test: "partition-worker › when a worker's job loop is stuck while Redis answers its heartbeats",
          idsStored: 21, idsFailed: 0, idsLost: 0, duplicateFetches: 0, recoverySeconds: Math.round(verdictMs / 100) / 10,
          notes: `heartbeat fresh and a waiting job untaken while stuck; exit 1 that long after the stall (WORKER_STUCK_MS=${STUCK_MS}); the supervisor's new process took the job and a batch of 20`,
        });
      });
    });
  });
});
