import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { openContext, type AppContext } from '../src/cli/context';
import { parseDashboardConfig } from '../src/config/dashboard-variables';
import { parseConfig } from '../src/config/load';
import { startDashboard, type RunningDashboard } from '../src/dashboard/server';
import { createLogger } from '../src/log';
import type { LocalRedisServer } from '../src/redis/local-server';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis } from './helpers/redis';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const maybe = haveChromium ? it : it.skip;
if (!haveChromium) console.warn(`dashboard browser test skipped: no Chromium at ${CHROMIUM} (CI installs it; locally: apt-get install chromium)`);

/** Screenshots for a human to look at (gitignored). */
const ARTIFACTS = resolve(__dirname, '../test-artifacts');
const PREFIX = 'dash-browser';
const FIRST_BATCH = '1-150,20001-20004'; // 150 Pokémon and 4 ids the API does not know
const SECOND_BATCH = '151-500';

/** What the page may load: itself only. Anything else is recorded and refused, as if offline. */
async function offlinePage(browser: Browser, base: string) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const external: string[] = [];
  const problems: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    external.push(url);
    return route.abort();
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  return { page, external, problems };
}

describe('the dashboard in a real browser', () => {
  let redis: LocalRedisServer | undefined;
  let sim: RunningSimulator | undefined;
  let ctx: AppContext | undefined;
  let dashboard: RunningDashboard;
  let browser: Browser | undefined;
  const workers: WorkerProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!haveChromium) return;
    mkdirSync(ARTIFACTS, { recursive: true });
    const r = await startTestRedis();
    redis = r.server;
    r.client.disconnect();
    sim = await startSimulator({ latencyMs: 30, jitterMs: 30 });
    env = { REDIS_URL: r.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: PREFIX, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '4' };
    // Two worker processes, so the workers table shows scaling out.
    const starting = [startWorker({ ...env, LOG_LEVEL: 'info' }), startWorker({ ...env, LOG_LEVEL: 'info' })];
    starting.forEach((s) => void s.then((w) => workers.push(w), () => undefined));
    ctx = await openContext(parseConfig(env), createLogger('silent'), { startup: 'fail-fast' });
    dashboard = await startDashboard({ ...ctx, dashboard: parseDashboardConfig({ DASHBOARD_PORT: '0' }) });
    [browser] = await Promise.all([
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      }),
      Promise.all(starting),
    ]);
    const first = await runCli(['enqueue', FIRST_BATCH, '--wait'], env);
    expect(first.code).toBe(1); // the 4 unknown ids fail, as intended
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await ctx?.close();
    await sim?.close();
    await redis?.stop();
  });

  maybe('should show the queue in bull-board, with its metrics chart and links to /stats', async () => {
    const { page } = await offlinePage(browser!, dashboard.url);
    await page.goto(`${dashboard.url}/`);
    await page.waitForURL(/\/admin\/queues$/);
    await page.getByText('pokequeue', { exact: true }).first().waitFor();
    await page.getByRole('link', { name: 'pokemon' }).first().waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-bull-board.png` });

    await page.goto(`${dashboard.url}/admin/queues/queue/pokemon`);
    await page.getByText('Throughput (jobs / min)').waitFor();
    await page.getByText(/^pokemon-\d+$/).first().waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-bull-board-queue.png` });

    // The header menu leads to the page bull-board cannot show.
    await page.locator('header ul li').last().locator('button').click();
    await page.getByRole('menuitem', { name: /Live stats/ }).click();
    await page.waitForURL(/\/stats$/);
    await page.close();
  });

  maybe('should draw /stats from its own scripts: charts, numbers, batches and workers, updating by itself', async () => {
    const { page, external, problems } = await offlinePage(browser!, dashboard.url);
    const second = await runCli(['enqueue', SECOND_BATCH], env);
    expect(second.code).toBe(0);

    await page.goto(`${dashboard.url}/stats`);
    await page.locator('#status.status-live').waitFor();
    // While the second batch runs (if it is not done already): a progress bar, a rate, an ETA.
    await page.locator('.badge-running').first().waitFor({ timeout: 3000 }).catch(() => undefined);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-stats-running.png`, fullPage: true });

    // The page keeps polling: once every job is done it shows the final numbers without a reload.
    await page.locator('#tile-completed', { hasText: /^500$/ }).waitFor({ timeout: 20_000 });
    await page.locator('#batches-table .badge-running').waitFor({ state: 'detached', timeout: 10_000 });
    // Every section is drawn from the same poll, so the rest of the page shows this state too.
    const tile = (id: string) => page.locator(`#${id}`).innerText();
    expect(await tile('tile-completed')).toBe('500');
    expect(await tile('tile-failed')).toBe('4');
    expect(await tile('tile-workers')).toBe('2');
    expect(await tile('tile-stored')).toBe('500');

    // Runs in the page (the test itself is compiled without DOM types, hence a string).
    const charts = await page.evaluate<{ perMinute: number[]; ratePeak: number; histogram: number[]; sizes: [number, number][] }>(`(() => {
      const sums = (id) => Chart.getChart(id).data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0));
      const box = (id) => document.getElementById(id).getBoundingClientRect();
      return {
        perMinute: sums('minute-chart'),
        ratePeak: Math.max(...Chart.getChart('rate-chart').data.datasets[0].data),
        histogram: sums('histogram-chart'),
        sizes: ['rate-chart', 'minute-chart', 'histogram-chart'].map((id) => [box(id).width, box(id).height]),
      };
    })()`);
    expect(charts.perMinute).toEqual([500, 4]); // completed, failed
    expect(charts.ratePeak).toBeGreaterThan(0);
    expect(charts.histogram).toEqual([504, 500, 504]); // wait, fetch (failures have none), total
    for (const [w, h] of charts.sizes) {
      expect(w).toBeGreaterThan(300);
      expect(h).toBeGreaterThan(150);
    }

    const timing = await page.locator('#timing-table tbody tr').allInnerTexts();
    expect(timing).toHaveLength(3);
    for (const row of timing) expect(row).toMatch(/\d+(\.\d+)? m?s/);

    const batches = await page.locator('#batches-table tbody tr').allInnerTexts();
    expect(batches).toHaveLength(2);
    expect(batches[0]).toContain(SECOND_BATCH);
    expect(batches[0]).toContain('350 / 350');
    expect(batches[1]).toContain(FIRST_BATCH);
    expect(batches[1]).toContain('154 / 154');
    expect(batches[1]).toContain('not_found 4');

    const workerRows = await page.locator('#workers-table tbody tr').allInnerTexts();
    expect(workerRows).toHaveLength(2);
    expect(await page.locator('#workers-summary').innerText()).toMatch(/^2 processes on 1 host · concurrency 8/);

    await page.screenshot({ path: `${ARTIFACTS}/dashboard-stats.png`, fullPage: true });
    expect(external).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
