import { copyFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { artifactPath } from './helpers/artifacts';
import { runCli, startDashboard, startWorker, type DashboardProcess, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';
import { until } from './helpers/until';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const maybe = haveChromium ? it : it.skip;
if (!haveChromium) console.warn(`dashboard browser test skipped: no Chromium at ${CHROMIUM} (CI installs it; locally: apt-get install chromium)`);

/** Screenshots for a human to look at (gitignored). `UPDATE_DOCS_SCREENSHOT=1` also copies /stats to docs/stats.png. */
const DOCS_SCREENSHOT = resolve(__dirname, '../docs/stats.png');
const PREFIX = 'dash-browser';
const FIRST_BATCH = '1-150,20001-20004'; // 150 Pokémon and 4 ids the API does not know
const SECOND_BATCH = '151-500';
const USER = 'ash';
const PASSWORD = 'pika:chu';

/** bull-board's own page asks Google Fonts for its typeface; offline it falls back to a system font. */
const GOOGLE_FONTS = /^https:\/\/fonts\.(googleapis|gstatic)\.com\//;

/**
 * A page logged in to the dashboard that may load only from it: anything else is refused as if
 * offline, and recorded. Every page error, console error, failed request and HTTP error is a
 * problem, except Google Fonts (see above), which only bull-board's page may ask for.
 */
async function watchedPage(browser: Browser, base: string, opts: { allowGoogleFonts: boolean }) {
  const page = await browser.newPage({
    viewport: { width: 1440, height: 1000 },
    // Sent with the first request, so no 401-then-retry shows up as a failed request.
    httpCredentials: { username: USER, password: PASSWORD, send: 'always' },
  });
  const external: string[] = [];
  const problems: string[] = [];
  const ignored = (url: string) => opts.allowGoogleFonts && GOOGLE_FONTS.test(url);
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    if (!ignored(url)) external.push(url);
    return route.abort();
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !ignored(msg.location().url)) problems.push(`console: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => {
    if (!ignored(req.url()) && req.url().startsWith(base)) problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return { page, external, problems };
}

/**
 * How many pixels of each colour a canvas shows (within a small tolerance, so anti-aliased edges
 * do not count): a chart with data draws its series in their colours; a blank canvas has none.
 */
async function pixelsOfColours(page: Page, canvasId: string, colours: Record<string, string>): Promise<Record<string, number>> {
  // Runs in the page (the test itself is compiled without DOM types, hence a string).
  return page.evaluate(`(() => {
    const canvas = document.getElementById(${JSON.stringify(canvasId)});
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const colours = ${JSON.stringify(colours)};
    const out = {};
    for (const [name, hex] of Object.entries(colours)) {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 200 && Math.abs(data[i] - r) < 12 && Math.abs(data[i + 1] - g) < 12 && Math.abs(data[i + 2] - b) < 12) n++;
      }
      out[name] = n;
    }
    return out;
  })()`);
}

describe('the dashboard in a real browser (pokequeue dashboard, with authentication)', () => {
  let redis: TestRedis | undefined;
  let sim: RunningSimulator | undefined;
  let dashboard: DashboardProcess | undefined;
  let browser: Browser | undefined;
  const processes: WorkerProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!haveChromium) return;
    redis = await startTestRedis();
    sim = await startSimulator({ latencyMs: 30, jitterMs: 30 });
    env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: PREFIX, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '4' };
    // Two worker processes, so the workers table shows scaling out; the dashboard asks for a password.
    const starting = [
      startWorker({ ...env, LOG_LEVEL: 'info' }),
      startWorker({ ...env, LOG_LEVEL: 'info' }),
      startDashboard({ ...env, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }),
    ] as const;
    starting.forEach((s) => void s.then((p) => processes.push(p), () => undefined));
    [browser, , , dashboard] = await Promise.all([
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      }),
      ...starting,
    ]);
    const first = await runCli(['enqueue', FIRST_BATCH, '--wait'], env);
    expect(first.code).toBe(1); // the 4 unknown ids fail, as intended
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(processes.map((p) => p.stop()));
    await sim?.close();
    await redis?.stop();
  });

  maybe('should ask for the password before showing anything', async () => {
    for (const path of ['/stats', '/admin/queues', '/static/chart.umd.js']) {
      expect([path, (await fetch(`${dashboard!.url}${path}`)).status]).toEqual([path, 401]);
    }
  });

  maybe('should draw /stats from its own scripts: charts, numbers, batches and workers, updating by itself', async () => {
    const { page, external, problems } = await watchedPage(browser!, dashboard!.url, { allowGoogleFonts: false });
    const second = await runCli(['enqueue', SECOND_BATCH], env);
    expect(second.code).toBe(0);

    await page.goto(`${dashboard!.url}/stats`);
    await page.locator('#status.status-live').waitFor();
    // A browser asks for the page's icon (or /favicon.ico when it names none) on its own, and logs
    // a 404 as a console error; with request interception on, Chromium skips it, so ask here.
    const icon = (await page.locator('link[rel~="icon"]').getAttribute('href')) ?? '/favicon.ico';
    const iconAnswer = await page.request.get(new URL(icon, `${dashboard!.url}/stats`).href);
    expect([icon, iconAnswer.status(), iconAnswer.headers()['content-type']]).toEqual([icon, 200, expect.stringMatching(/^image\//)]);
    // While the second batch runs (if it is not done already): a progress bar, a rate, an ETA.
    await page.locator('.badge-running').first().waitFor({ timeout: 3000 }).catch(() => undefined);
    await page.screenshot({ path: artifactPath('dashboard-stats-running.png'), fullPage: true });

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
    // Drawn, not only configured: each series shows in its colour on its canvas (stats.js's COLORS).
    const drawn = {
      rate: await pixelsOfColours(page, 'rate-chart', { rate: '#2563eb' }),
      minute: await pixelsOfColours(page, 'minute-chart', { completed: '#16a34a', failed: '#dc2626' }),
      histogram: await pixelsOfColours(page, 'histogram-chart', { wait: '#d97706', fetch: '#0891b2', total: '#7c3aed' }),
    };
    for (const [chart, colours] of Object.entries(drawn)) {
      for (const [series, n] of Object.entries(colours)) expect([chart, series, n > 0]).toEqual([chart, series, true]);
    }
    // The line is a long stroke and the bars are solid blocks; 4 failures against 500 make a sliver.
    expect(drawn.rate.rate).toBeGreaterThan(200);
    expect(drawn.minute.completed).toBeGreaterThan(500);
    expect(drawn.histogram.fetch).toBeGreaterThan(500);

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
    // Heartbeats come every 2 s, so the workers table catches up a little after the tiles: then
    // the two processes account for every job, and none is in flight.
    // (Polled from here: the page's CSP rightly forbids the eval that waitForFunction needs.)
    await until(
      () =>
        page.evaluate<boolean>(`(() => {
          const rows = [...document.querySelectorAll('#workers-table tbody tr')].map((tr) => [...tr.cells].map((td) => td.innerText.trim()));
          const completed = rows.reduce((n, cells) => n + Number(cells[4].replace(/\\D/g, '')), 0);
          return completed === 500 && rows.every((cells) => cells[3].startsWith('0 /'));
        })()`),
      10_000,
      'the workers table to account for all 500 jobs',
      200,
    );

    await page.screenshot({ path: artifactPath('dashboard-stats.png'), fullPage: true });
    expect(external).toEqual([]);
    expect(problems).toEqual([]);
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(artifactPath('dashboard-stats.png'), DOCS_SCREENSHOT);
    await page.close();
  });


  maybe('should show the queue in bull-board: its counts, its jobs, its chart, and links to /stats', async () => {
    // After the /stats test: both batches are done, 500 completed and 4 failed.
    const { page, external, problems } = await watchedPage(browser!, dashboard!.url, { allowGoogleFonts: true });
    await page.goto(`${dashboard!.url}/`);
    await page.waitForURL(/\/admin\/queues$/);
    await page.getByText('pokequeue', { exact: true }).first().waitFor();
    await page.getByRole('link', { name: 'pokemon' }).first().waitFor();
    await page.getByText('504 Jobs').waitFor();
    const overview = await page.locator('main').innerText();
    expect(overview).toMatch(/COMPLETED\s+500/i);
    expect(overview).toMatch(/FAILED\s+4/i);
    await page.screenshot({ path: artifactPath('dashboard-bull-board.png') });

    await page.goto(`${dashboard!.url}/admin/queues/queue/pokemon`);
    await page.getByText('Throughput (jobs / min)').waitFor();
    await page.getByText(/^pokemon-\d+$/).first().waitFor();
    // bull-board's chart is an SVG (recharts): its completed curve spans the plot and rises off the
    // baseline where the batches ran (y grows downwards).
    const curve = page.locator('.recharts-surface .recharts-area path.recharts-area-curve').first();
    await curve.waitFor();
    expect((await curve.boundingBox())!.width).toBeGreaterThan(500);
    const ys = [...((await curve.getAttribute('d')) ?? '').matchAll(/-?[\d.]+,(-?[\d.]+)/g)].map((m) => Number(m[1]));
    expect(ys.length).toBeGreaterThan(30);
    expect(Math.max(...ys) - Math.min(...ys)).toBeGreaterThan(50);
    expect(await page.locator('main').innerText()).toMatch(/500\s+Completed \(last 60 min\)/);
    await page.screenshot({ path: artifactPath('dashboard-bull-board-queue.png') });

    // The failed jobs are there with their reason, one click away.
    await page.goto(`${dashboard!.url}/admin/queues/queue/pokemon?status=failed`);
    await page.getByText('no Pokémon with id 20004').first().waitFor();
    expect(await page.getByText(/^pokemon-2000[1-4]$/).count()).toBe(4);

    // The header menu leads to the page bull-board cannot show.
    await page.locator('header ul li').last().locator('button').click();
    await page.getByRole('menuitem', { name: /Live stats/ }).click();
    await page.waitForURL(/\/stats$/);
    await page.locator('#status.status-live').waitFor();
    expect(external).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
