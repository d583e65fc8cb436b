/**
 * Scenario 8, a batch of 200,000 jobs: what the views cost while it runs and after, through the
 * shipped CLI and dashboard as processes. `/api/stats` (the `/stats` page polls it every 2 s) is
 * timed while the batch runs and after; `status --json` as a whole process; how long after the
 * batch's last job `enqueue --wait --json` printed its summary; and the Redis memory the batch
 * keeps per finished job beyond the records themselves.
 */
import { spawn } from 'node:child_process';
import type { Scenario, ScenarioContext } from '../lib/context';
import { benchEnv, dropPrefix, freshPrefix, sleep } from '../lib/infra';
import { childEnv, CLI, ROOT, runCli, startWorker, track, type WorkerProcess } from '../lib/processes';
import type { Check, ScenarioReport } from '../lib/report';
import { startSmallApi } from '../lib/small-api';
import { fmt, med, sample } from '../lib/stats';

const CONCURRENCY = 100;
const WORKERS = 2;

export const bigBatch: Scenario = {
  key: 'big-batch',
  title: '8. A batch of 200,000 jobs: the cost of watching it',
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const t0 = performance.now();
    const count = ctx.opts.quick ? 20_000 : 200_000;
    const api = await startSmallApi(count, { prebuilt: 0 });
    const prefix = freshPrefix('big');
    const env = benchEnv(ctx.redis.url, api.url, prefix);
    const workers: WorkerProcess[] = [];
    const dashboard = await startDashboard(env);
    try {
      for (let i = 0; i < WORKERS; i++) workers.push(await startWorker({ env: { ...env, LOG_LEVEL: 'info' }, concurrency: CONCURRENCY }));
      const usedBefore = await usedMemory(ctx);

      // The producer as a user runs it; the moment its summary reaches stdout is recorded here.
      const started = Date.now();
      const enqueue = track(spawn(process.execPath, [CLI, 'enqueue', `1-${count}`, '--wait', '--json'], { env: childEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
      let stdout = '';
      let printedAt = 0;
      enqueue.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n') && !printedAt) printedAt = Date.now();
      });
      let stderr = '';
      enqueue.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      const exited = new Promise<number | null>((r) => enqueue.on('exit', (code) => r(code)));
      let finished = false;
      void exited.then(() => (finished = true));

      // While it runs: /api/stats every half second, status --json now and then (skipping the first seconds of enqueueing).
      const during: number[] = [];
      const statusDuring: number[] = [];
      let polls = 0;
      while (!finished) {
        await sleep(500);
        if (finished) break;
        const { ms, body } = await timeGet(`${dashboard.url}/api/stats`);
        const stats = JSON.parse(body) as { batches: { done: number; total: number }[] };
        if (stats.batches[0] && stats.batches[0].done > 0 && stats.batches[0].done < stats.batches[0].total) {
          during.push(ms);
          if (++polls % 10 === 0) statusDuring.push((await runCli(['status', '--json'], env, { timeoutMs: 30_000 })).ms);
        }
      }
      const code = await exited;
      if (code !== 0) throw new Error(`enqueue --wait exited ${code}: ${stderr}`);
      const summary = JSON.parse(stdout) as { batchId: string; finishedAt: number; completed: number; wallMs: number; jobsPerSecond: number };
      if (summary.completed !== count) throw new Error(`${summary.completed} of ${count} jobs completed`);
      const summaryDelay = printedAt - summary.finishedAt;

      const after: number[] = [];
      for (let i = 0; i < 20; i++) after.push((await timeGet(`${dashboard.url}/api/stats`)).ms);
      const statusAfter: number[] = [];
      for (let i = 0; i < 5; i++) statusAfter.push((await runCli(['status', '--json'], env, { timeoutMs: 30_000 })).ms);

      // Memory: the batch's own keys, exactly, and the fleet statistics' keys, per finished job.
      const batchKeys = [`${prefix}:batch:${summary.batchId}`, `${prefix}:batch:${summary.batchId}:done`, `${prefix}:batch:${summary.batchId}:failed`];
      const batchBytes = await memoryOf(ctx, batchKeys);
      const statsBytes = await memoryOf(ctx, await scan(ctx, `${prefix}:stats:*`));
      const recordsBytes = await memoryOf(ctx, [`${prefix}:records`, `${prefix}:names`]);
      const usedAfter = await usedMemory(ctx);
      ctx.log(
        `  ${fmt(count)} jobs in ${fmt(summary.wallMs / 1000, 1)} s (${fmt(summary.jobsPerSecond)} jobs/s); /api/stats median ${fmt(med(sample(during, '')))} ms while running, ` +
          `${fmt(med(sample(after, '')))} ms after; status --json ${fmt(med(sample(statusAfter, '')))} ms; summary ${fmt(summaryDelay)} ms after the last job`,
      );
      const checks: Check[] = [
        { label: `/api/stats while the ${fmt(count)}-job batch runs (median of ${during.length} polls)`, ours: sample(during, 'ms'), target: '≤ 100 ms', met: med(sample(during, '')) <= 100 },
        { label: `/api/stats after it finished (median of ${after.length})`, ours: sample(after, 'ms'), target: '≤ 50 ms', met: med(sample(after, '')) <= 50 },
        { label: '`status --json`, whole process, after it finished', ours: sample(statusAfter, 'ms'), target: '≤ 300 ms', met: med(sample(statusAfter, '')) <= 300 },
        { label: '`enqueue --wait --json`: summary printed after the last job was counted', ours: sample([summaryDelay], 'ms'), target: '≤ 1000 ms', met: summaryDelay <= 1000 },
        {
          label: "Redis memory per finished job in the batch's own keys (hash, done and failed bitmaps)",
          ours: sample([batchBytes / count], 'bytes'),
          target: 'O(1) bits (≤ 1 byte)',
          met: batchBytes / count <= 1,
          digits: 3,
        },
      ];
      return {
        key: this.key,
        title: this.title,
        what:
          `One batch of ${fmt(count)} jobs through the shipped CLI: \`pokequeue enqueue 1-${count} --wait --json\` as a process, ${WORKERS} \`pokequeue worker\` processes at concurrency ${CONCURRENCY}, ` +
          '`pokequeue dashboard` as a process, and the small loopback API (bench/lib/small-api.ts, ~2 KB payloads sent uncompressed). ' +
          "While the batch runs, /api/stats is fetched every 500 ms and `status --json` run every 10th poll; after it, 20 fetches and 5 runs. The summary's delay is the time between the batch's finishedAt (set by the script that counted its last job) and the summary reaching the bench through the producer's stdout.",
        settings: [
          ['jobs', `${fmt(count)}, ids 1–${count}, one batch`],
          ['workers', `${WORKERS} processes × concurrency ${CONCURRENCY}, RATE_LIMIT_PER_SECOND=0`],
          ['batch', `${fmt(summary.wallMs / 1000, 1)} s, ${fmt(summary.jobsPerSecond)} jobs/s`],
        ],
        checks,
        tables: [
          {
            title: 'Redis memory after the batch (MEMORY USAGE, exact)',
            header: ['what', 'bytes', 'per job'],
            rows: [
              ["the batch's keys: hash (counters, histograms) and bitmaps", fmt(batchBytes), fmt(batchBytes / count, 3)],
              ['fleet statistics: totals, minute and five-second slots', fmt(statsBytes), fmt(statsBytes / count, 3)],
              ['the records and names hashes (the store itself)', fmt(recordsBytes), fmt(recordsBytes / count)],
              ['used_memory growth, everything (incl. BullMQ\'s 1000 kept jobs)', fmt(usedAfter - usedBefore), fmt((usedAfter - usedBefore) / count)],
            ],
          },
        ],
        notes: [
          `status --json while the batch ran: median ${fmt(med(sample(statusDuring, '')))} ms over ${statusDuring.length} runs.`,
        ],
        tookMs: performance.now() - t0,
      };
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await dashboard.stop();
      await api.close();
      await dropPrefix(ctx.redis.client, prefix);
    }
  },
};

async function startDashboard(env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const child = track(spawn(process.execPath, [CLI, 'dashboard', '--port', '0'], { env: childEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dashboard did not start: ${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /dashboard: (http:\/\/[^/\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function timeGet(url: string): Promise<{ ms: number; body: string }> {
  const started = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${body.slice(0, 200)}`);
  return { ms: performance.now() - started, body };
}

async function usedMemory(ctx: ScenarioContext): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await ctx.redis.client.info('memory'))?.[1] ?? NaN);
}

async function memoryOf(ctx: ScenarioContext, keys: string[]): Promise<number> {
  let bytes = 0;
  for (const key of keys) bytes += Number((await ctx.redis.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  return bytes;
}

async function scan(ctx: ScenarioContext, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await ctx.redis.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}
