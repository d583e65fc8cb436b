import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { appRoutes } from '@bull-board/api/dist/routes';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import { PAGE_MAX_BYTES } from '../src/dashboard/pokemon-api';
import { artifactPath } from './helpers/artifacts';
import { json, payload, startHostileApi, type HostileApi } from './helpers/hostile-api';
import { CLI, cliEnv, runCli, startWorker } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

/**
 * The dashboard as a browser on a hostile page, or a forged request, sees it (issue 11), against
 * `pokequeue dashboard` processes started from the built CLI, with raw HTTP requests whose Host,
 * Origin, Referer and Sec-Fetch-Site headers a test sets by hand. Redis has a password, so the
 * last spec can check that no secret appears in anything any process printed or answered.
 */

const REDIS_PASSWORD = 'redis-s3cret-9f2e';
const DASHBOARD_PASSWORD = 'pika:chu-s3cret-41aa';
const CHROMIUM = '/usr/bin/chromium';
const maybe = existsSync(CHROMIUM) ? it : it.skip;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Everything any process printed and any HTTP answer: the no-secrets spec reads it all. */
const seen: string[] = [];

/** One HTTP request with exactly the headers given (Host included), as a forger would send it. */
function raw(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        seen.push(text);
        resolve({ status: res.statusCode!, headers: res.headers, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface DashboardProcess {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** `pokequeue dashboard --port 0` from the built CLI; resolves once it prints its URL. */
function startDashboardProcess(env: Record<string, string>): Promise<DashboardProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'dashboard', '--port', '0'], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dashboard did not start:\n${out}`));
    }, 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const port = /^dashboard: http:\/\/127\.0\.0\.1:(\d+)\/admin\/queues/m.exec(out)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({
          port: Number(port),
          child,
          output: () => out,
          async stop() {
            child.kill('SIGTERM');
            await exited;
            seen.push(out);
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`dashboard exited before it listened:\n${out}`)));
  });
}

/** Every write route of the installed bull-board, from its own route table, with its parameters filled in. */
const bullBoardWrites = appRoutes.api
  .flatMap((r) => [r.method].flat().map((method) => ({ method: method.toUpperCase(), route: [r.route].flat()[0]! })))
  .filter((r) => r.method !== 'GET')
  .map((r) => ({
    ...r,
    path: `/admin/queues${r.route
      .replace(':queueName', 'pokemon').replace(':jobId', 'pokemon-1').replace(':queueStatus', 'failed').replace(':schedulerId', 'nightly')}`,
  }));

describe('the dashboard against forged and cross-site requests', () => {
  let redis: TestRedis;
  let client: Redis;
  let queue: Queue;
  let api: HostileApi;
  let env: Record<string, string>;
  let open: DashboardProcess;
  let locked: DashboardProcess;
  let readOnly: DashboardProcess;

  beforeAll(async () => {
    redis = await startTestRedis(['--requirepass', REDIS_PASSWORD]);
    const url = `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.server.port}`;
    client = new Redis(url);
    queue = new Queue('pokemon', { connection: client, prefix: 'dash' });
    api = await startHostileApi();
    env = { REDIS_URL: url, POKEAPI_URL: api.url, QUEUE_PREFIX: 'dash', RATE_LIMIT_PER_SECOND: '0', JOB_ATTEMPTS: '1', LOG_LEVEL: 'info' };

    // Failed jobs whose reasons quote HTML the API sent, made by a real worker.
    api.pokemon.set(1, (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>');
    });
    api.pokemon.set(2, (_q, res) => json(res, 200, payload(2, { id: '<img src=x onerror="window.__pwned=3">' })));
    api.pokemon.set(3, (_q, res) => json(res, 200, payload(3, { name: '<b>bold</b>' })));
    const worker = await startWorker(env);
    const batch = await runCli(['enqueue', '1-3', '--wait'], env);
    seen.push(batch.stdout, batch.stderr);
    expect(batch.code).toBe(1);
    await worker.stop();
    seen.push(worker.output());

    // Records for the paging spec: 200 of a real size, 30 of 100 KB and 2 of 5 MB, as a store
    // written before records were capped could hold.
    const records: string[] = [];
    const record = (id: number, pad = 0) => JSON.stringify({ id, name: `r${id}`, types: ['grass'], abilities: [], stats: { hp: 1 }, pad: 'x'.repeat(pad) });
    for (let id = 1000; id < 1200; id++) records.push(String(id), record(id));
    for (let id = 2000; id < 2030; id++) records.push(String(id), record(id, 100_000));
    for (let id = 3000; id < 3002; id++) records.push(String(id), record(id, 5_000_000));
    await client.hset('dash:records', ...records);

    [open, locked, readOnly] = await Promise.all([
      startDashboardProcess(env),
      startDashboardProcess({ ...env, DASHBOARD_USER: 'ash', DASHBOARD_PASSWORD }),
      startDashboardProcess({ ...env, DASHBOARD_READ_ONLY: 'true', DASHBOARD_ALLOWED_HOSTS: 'pokequeue.example.com,.corp.example' }),
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const d of [open, locked, readOnly]) await d?.stop();
    await queue?.close();
    client?.disconnect();
    await api?.close();
    await redis?.stop();
  });

  describe('DNS rebinding: without credentials, only names the dashboard serves', () => {
    const evil = () => ({ host: `evil.example:${open.port}`, origin: `http://evil.example:${open.port}` });

    it('refuses to pause the queue for a page on evil.example that resolves to 127.0.0.1', async () => {
      const res = await raw(open.port, 'PUT', '/admin/queues/api/queues/pokemon/pause', { ...evil(), 'sec-fetch-site': 'same-origin' });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text).error).toMatch(/does not serve the name "evil\.example:\d+".*DASHBOARD_ALLOWED_HOSTS/);
      expect(await queue.isPaused()).toBe(false);
    });

    it.each(['/admin/queues', '/admin/queues/api/queues', '/api/stats', '/api/pokemon', '/api/pokemon/1000', '/metrics', '/stats', '/healthz', '/readyz'])(
      'refuses to show %s to evil.example',
      async (path) => {
        expect((await raw(open.port, 'GET', path, evil())).status).toBe(403);
      },
    );

    it.each(['127.0.0.1', 'localhost', 'LOCALHOST', 'pokequeue.localhost', '[::1]', '10.0.0.5', 'localhost.'])('serves Host %s', async (name) => {
      expect((await raw(open.port, 'GET', '/api/stats', { host: `${name}:${open.port}` })).status).toBe(200);
    });

    it.each(['evil.example', '127.0.0.1.evil.example', 'localhost.evil.example', 'localhostevil.example', 'pokequeue.example.com'])(
      'refuses Host %s',
      async (name) => {
        expect((await raw(open.port, 'GET', '/healthz', { host: `${name}:${open.port}` })).status).toBe(403);
      },
    );

    it('serves the names of DASHBOARD_ALLOWED_HOSTS, and subdomains of a leading-dot name', async () => {
      for (const [name, status] of [['pokequeue.example.com', 200], ['a.corp.example', 200], ['corp.example', 200], ['evil.example', 403], ['example.com', 403]] as const) {
        expect([name, (await raw(readOnly.port, 'GET', '/api/stats', { host: name })).status]).toEqual([name, status]);
      }
    });

    it('still pauses the queue for a legitimate same-origin browser request', async () => {
      const self = `127.0.0.1:${open.port}`;
      const headers = { host: self, origin: `http://${self}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' };
      expect((await raw(open.port, 'PUT', '/admin/queues/api/queues/pokemon/pause', headers)).status).toBe(200);
      expect(await queue.isPaused()).toBe(true);
      expect((await raw(open.port, 'PUT', '/admin/queues/api/queues/pokemon/resume', headers)).status).toBe(200);
      expect(await queue.isPaused()).toBe(false);
    });
  });

  describe('cross-site writes', () => {
    const self = () => `127.0.0.1:${open.port}`;
    const pause = (headers: Record<string, string>, method = 'PUT', body?: string) =>
      raw(open.port, method, '/admin/queues/api/queues/pokemon/pause', headers, body);
    const add = (headers: Record<string, string>, body = '{"name":"x","data":{}}') => raw(open.port, 'POST', '/admin/queues/api/queues/pokemon/add', headers, body);

    it.each([
      ['an Origin of another site, JSON', { origin: 'https://evil.example', 'content-type': 'application/json' }],
      ['an Origin of another site, text/plain', { origin: 'https://evil.example', 'content-type': 'text/plain' }],
      ['an Origin of another site, multipart', { origin: 'https://evil.example', 'content-type': 'multipart/form-data; boundary=x' }],
      ['an Origin on another port of localhost', { origin: 'http://127.0.0.1:1' }],
      ['Origin: null (a sandboxed frame)', { origin: 'null' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site (another port)', { 'sec-fetch-site': 'same-site' }],
      ['a matching Origin but Sec-Fetch-Site: cross-site', { origin: 'ORIGIN', 'sec-fetch-site': 'cross-site' }],
      ['no Origin and the Referer of another site', { referer: 'https://evil.example/page' }],
    ])('refuses a write with %s', async (_what, headers) => {
      const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v === 'ORIGIN' ? `http://${self()}` : v]));
      const res = await pause(h);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text).error).toMatch(/^cross-site requests may not change anything/);
      expect(await queue.isPaused()).toBe(false);
    });

    it.each([
      ['text/plain', 'text/plain'],
      ['multipart', 'multipart/form-data; boundary=x'],
      ['a form', 'application/x-www-form-urlencoded'],
    ])('refuses a %s post without Origin, Referer or Sec-Fetch-Site (what an old browser sent cross-site)', async (_what, type) => {
      const before = await queue.count();
      const res = await add({ 'content-type': type }, 'name=x');
      expect(res.status).toBe(403);
      expect(await queue.count()).toBe(before);
    });

    it('lets curl (no browser headers) pause with PUT and add a job with a JSON post: no browser sends those cross-site without a preflight', async () => {
      expect((await pause({})).status).toBe(200);
      expect(await queue.isPaused()).toBe(true);
      expect((await raw(open.port, 'PUT', '/admin/queues/api/queues/pokemon/resume')).status).toBe(200);
      const before = await queue.count();
      expect((await add({ 'content-type': 'application/json' })).status).toBe(200);
      expect(await queue.count()).toBe(before + 1);
      await queue.drain();
    });

    it('lets a write through with Sec-Fetch-Site: same-origin, or a same-origin Referer, whatever the content type', async () => {
      const variants: Record<string, string>[] = [{ 'sec-fetch-site': 'same-origin', 'content-type': 'text/plain' }, { referer: `http://${self()}/admin/queues` }];
      for (const headers of variants) {
        expect((await pause(headers)).status).toBe(200);
        expect((await raw(open.port, 'PUT', '/admin/queues/api/queues/pokemon/resume', headers)).status).toBe(200);
      }
      expect(await queue.isPaused()).toBe(false);
    });
  });

  describe('with DASHBOARD_USER and DASHBOARD_PASSWORD', () => {
    const basic = `Basic ${Buffer.from(`ash:${DASHBOARD_PASSWORD}`).toString('base64')}`;

    it.each(['/', '/admin/queues', '/admin/queues/api/queues', '/stats', '/static/stats.js', '/static/chart.umd.js', '/api/stats', '/api/pokemon', '/api/pokemon/1000', '/metrics', '/nowhere'])(
      'asks for credentials on GET %s',
      async (path) => {
        const res = await raw(locked.port, 'GET', path);
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Basic realm="pokequeue"');
      },
    );

    it(`asks for credentials on every one of bull-board's ${bullBoardWrites.length} writes`, async () => {
      expect(bullBoardWrites.length).toBeGreaterThanOrEqual(20);
      for (const w of bullBoardWrites) {
        const res = await raw(locked.port, w.method, w.path, { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, '{}');
        expect([w.method, w.route, res.status]).toEqual([w.method, w.route, 401]);
      }
      expect(await queue.isPaused()).toBe(false);
    });

    it('refuses a forged Host with a 401 too (the rebinding page has no credentials), and serves the right user under any name', async () => {
      expect((await raw(locked.port, 'GET', '/api/stats', { host: 'evil.example' })).status).toBe(401);
      expect((await raw(locked.port, 'GET', '/api/stats', { host: 'dashboard.internal', authorization: basic })).status).toBe(200);
    });

    it('leaves the health checks open', async () => {
      expect((await raw(locked.port, 'GET', '/healthz')).status).toBe(200);
      expect((await raw(locked.port, 'GET', '/readyz')).status).toBe(200);
    });
  });

  describe('with DASHBOARD_READ_ONLY=true', () => {
    it(`refuses every one of bull-board's ${bullBoardWrites.length} writes, even same-origin, and changes nothing`, async () => {
      const counts = await queue.getJobCounts();
      const headers = { origin: `http://127.0.0.1:${readOnly.port}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' };
      for (const w of bullBoardWrites) {
        const res = await raw(readOnly.port, w.method, w.path, headers, '{"name":"x","data":{}}');
        expect([w.method, w.route, res.status]).toEqual([w.method, w.route, 405]);
      }
      expect(await queue.getJobCounts()).toEqual(counts);
      expect(await queue.isPaused()).toBe(false);
    });
  });

  it('refuses to listen on a non-loopback address without credentials: exit 2, before connecting', async () => {
    for (const args of [['--host', '0.0.0.0'], ['--host', '::']]) {
      const r = await runCli(['dashboard', ...args, '--port', '0'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' }, 20_000);
      seen.push(r.stdout, r.stderr);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error: --host: refusing to listen on .* without credentials/);
    }
    const r = await runCli(['dashboard', '--port', '0'], { ...env, DASHBOARD_HOST: '192.168.1.10' }, 20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: DASHBOARD_HOST: refusing to listen/);
  });

  describe('the records API', () => {
    it('answers a path that is not valid percent-encoding with a 400, not a 500', async () => {
      for (const path of ['/api/pokemon/%ZZ', '/api/pokemon/%E0%A4%A']) {
        const res = await raw(open.port, 'GET', path);
        expect([path, res.status]).toEqual([path, 400]);
        expect(JSON.parse(res.text).error).toMatch(/percent-encoding/);
      }
    });

    it(`bounds every page to ${PAGE_MAX_BYTES} bytes of records (one oversized record alone), and next visits each record once`, async () => {
      const ids: number[] = [];
      let path: string | null = '/api/pokemon?limit=1000';
      let pages = 0;
      while (path) {
        const res: Answer = await raw(open.port, 'GET', path);
        const page = JSON.parse(res.text) as { records: { id: number }[]; next: string | null; total: number };
        expect(page.total).toBe(233);
        if (page.records.length > 1) expect(res.text.length).toBeLessThan(PAGE_MAX_BYTES + 4096);
        ids.push(...page.records.map((r) => r.id));
        path = page.next;
        pages++;
      }
      expect(ids).toHaveLength(233);
      expect(new Set(ids).size).toBe(233);
      expect(pages).toBeGreaterThan(4);
      // The answer to 20 page requests at once no longer holds up the health check for a second.
      const started = Date.now();
      const pagesAtOnce = Array.from({ length: 20 }, () => raw(open.port, 'GET', '/api/pokemon?limit=1000'));
      const health = await raw(open.port, 'GET', '/healthz').then(() => Date.now() - started);
      await Promise.all(pagesAtOnce);
      process.stdout.write(`records API: ${pages} pages; /healthz answered in ${health} ms during 20 page requests\n`);
    });

    it('answers JSON that no browser will take for HTML', async () => {
      const res = await raw(open.port, 'GET', '/api/pokemon/3');
      expect(JSON.parse(res.text).name).toBe('<b>bold</b>');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });
  });

  maybe('renders the HTML the API sent as text in bull-board, running none of it', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      // What the page went through, for the failure message: bull-board renders the list only
      // after its API answers, and CI once saw the text not appear in 15 s.
      const trail: string[] = [];
      page.on('response', (r) => trail.push(`${r.status()} ${r.url()}`));
      page.on('requestfailed', (r) => trail.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
      page.on('console', (m) => trail.push(`console.${m.type()}: ${m.text()}`));
      await page.goto(`http://127.0.0.1:${open.port}/admin/queues/queue/pokemon?status=failed`);
      try {
        await page.getByText(/onerror="window\.__pwned=1"/).first().waitFor({ timeout: 30_000 });
        await page.getByText(/onerror=\\?"window\.__pwned=3/).first().waitFor({ timeout: 15_000 });
      } catch (err) {
        await page.screenshot({ path: artifactPath('hostile-dashboard-failed-jobs.png'), fullPage: true });
        const text = (await page.locator('body').innerText()).slice(0, 1500);
        throw new Error(`${(err as Error).message}\n\npage text:\n${text}\n\nwhat the page did:\n${trail.join('\n')}`);
      }
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(await page.locator('img[src="x"]').count()).toBe(0);
      expect(requested.filter((u) => /\/x$/.test(u))).toEqual([]);
      const stats = await browser.newPage();
      await stats.goto(`http://127.0.0.1:${open.port}/stats`);
      await stats.locator('#status.status-live').waitFor();
      expect(await stats.evaluate('window.__pwned')).toBeUndefined();
    } finally {
      await browser.close();
    }
  });

  it('shows no secret in anything a process printed or the dashboard answered', async () => {
    const status = await runCli(['status', '--json'], env);
    const failing = await runCli(['enqueue', '1', '--wait'], { ...env, REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:1` }, 20_000);
    seen.push(status.stdout, status.stderr, failing.stdout, failing.stderr);
    for (const d of [open, locked, readOnly]) seen.push(d.output());
    for (const path of ['/api/stats', '/metrics', '/readyz', '/admin/queues', '/admin/queues/api/queues', '/api/nothing']) await raw(open.port, 'GET', path);
    expect(failing.code).toBe(1);
    const everything = seen.join('\n');
    expect(everything.length).toBeGreaterThan(10_000);
    expect(everything).not.toContain(REDIS_PASSWORD);
    expect(everything).not.toContain(DASHBOARD_PASSWORD);
    expect(everything).not.toContain(Buffer.from(`ash:${DASHBOARD_PASSWORD}`).toString('base64'));
  });
});
