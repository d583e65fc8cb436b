import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import vm from 'node:vm';
import { runCli, startCliProcess, type SpawnOptions, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

const ROOT = resolve(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; files: string[] };

/** The files of the package, by decision (package.json `files`): what runs, and nothing else. */
const EXPECTED_FILES = [
  'README.md',
  'package.json',
  'dist/src/cli/main.js', // the bin: loads bundle.js through its code cache
  'dist/src/cli/bundle.js', // every command
  'dist/src/cli/bundle.v8', // V8's code cache of bundle.js, written at build time
  'dist/src/pokeapi/parse-thread.js', // loaded by worker threads as a file of its own
  'src/dashboard/public/favicon.svg', // the /stats page, served as it is
  'src/dashboard/public/stats.css',
  'src/dashboard/public/stats.html',
  'src/dashboard/public/stats.js',
  'src/redis/lua/adopt-ids.lua', // the Redis scripts, read at run time (src/redis/scripts.ts)
  'src/redis/lua/claim-names.lua',
  'src/redis/lua/classify-ids.lua',
  'src/redis/lua/create-batch.lua',
  'src/redis/lua/includes/finish-if-done.lua',
  'src/redis/lua/raise-max.lua',
  'src/redis/lua/record-outcomes.lua',
  'src/redis/lua/seal-batch.lua',
];

/**
 * What ships is what is tested: `npm pack`, the tarball installed into a new project with npm,
 * and `npx pokequeue` from there doing a user's first things: a batch against the simulator,
 * a record, the dashboard's page. The npm cache is warm after `npm ci`, so nothing is downloaded.
 */
describe('the package, installed from its tarball', () => {
  let dir: string;
  let project: string;
  let packed: string[];
  let redis: TestRedis;
  const running: WorkerProcess[] = [];
  const npx: SpawnOptions = { command: ['npx', '--no-install', 'pokequeue'] };
  let env: Record<string, string>;
  const timings: Record<string, number> = {};

  const timed = <T>(what: string, f: () => T): T => {
    const started = Date.now();
    try {
      return f();
    } finally {
      timings[what] = Date.now() - started;
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pokequeue-package-'));
    project = join(dir, 'project');
    // Already built (npm test builds first): --ignore-scripts keeps `prepare` from building again.
    const report = timed('npm pack', () =>
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    const [tarball] = JSON.parse(report) as { filename: string; files: { path: string }[] }[];
    packed = tarball!.files.map((f) => f.path).sort();
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pokequeue-install-check', private: true }));
    timed('npm install', () =>
      execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball!.filename)], {
        cwd: project, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' },
      }),
    );
    redis = await startTestRedis();
    env = { REDIS_URL: redis.url, QUEUE_PREFIX: 'installed', RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`package: ${Object.entries(timings).map(([k, ms]) => `${k} ${ms} ms`).join(', ')}`);
  });

  it('holds what runs and nothing else: no sources, tests, benches, fixtures or source maps', () => {
    expect(packed).toEqual([...EXPECTED_FILES].sort());
  });

  it('answers `npx pokequeue --version` with the version in package.json', async () => {
    const r = await runCli(['--version'], {}, 30_000, { ...npx, cwd: project });
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it("starts from the code cache it ships (the Node that built it is the one reading it)", () => {
    const cli = join(project, 'node_modules', pkg.name, 'dist', 'src', 'cli');
    // What the loader does: a cache V8 rejects costs a full compile of bundle.js on every command.
    const source = readFileSync(join(cli, 'bundle.js'), 'utf8').replace(/^#!.*/, '');
    const script = new vm.Script(Module.wrap(source), { filename: join(cli, 'bundle.js'), cachedData: readFileSync(join(cli, 'bundle.v8')) });
    expect(script.cachedDataRejected).toBe(false);
  });

  it('runs a batch: `npx pokequeue sim-api`, a worker and `enqueue --wait` from the installed package, then `get`', async () => {
    const sim = await startCliProcess(['sim-api', '--port', '0', '--latency-ms', '20'], {}, /listening on (http\S+)/, 20_000, { ...npx, cwd: project });
    running.push(sim);
    const simUrl = /listening on (http\S+)/.exec(sim.output())![1]!;
    // Payloads of ~100 KB: the worker parses them on its parse thread, a file of the package too.
    running.push(await startCliProcess(['worker'], { ...env, POKEAPI_URL: simUrl, LOG_LEVEL: 'info' }, /worker ready/, 20_000, { ...npx, cwd: project }));
    const batch = await runCli(['enqueue', '1-20', '--wait', '--json'], env, 60_000, { ...npx, cwd: project });
    expect(batch.code).toBe(0);
    expect(JSON.parse(batch.stdout)).toMatchObject({ requested: 20, completed: 20, failed: 0 });
    const record = await runCli(['get', '7', '--json'], env, 30_000, { ...npx, cwd: project });
    expect(record.code).toBe(0);
    expect(JSON.parse(record.stdout)).toMatchObject({ id: 7, sourceUrl: `${simUrl}/pokemon/7/` });
  });

  it("serves the dashboard's /stats page and every file it loads (HTML, JS, CSS, chart.umd.js, its icon)", async () => {
    const dashboard = await startCliProcess(['dashboard', '--port', '0'], env, /^dashboard: (http:\/\/\S+)\/admin\/queues/m, 20_000, { ...npx, cwd: project });
    running.push(dashboard);
    const base = /^dashboard: (http:\/\/\S+)\/admin\/queues/m.exec(dashboard.output())![1]!;
    const page = await fetch(`${base}/stats`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/static\/[^"]+)"/g)].map((m) => m[1]!).sort();
    expect(assets).toEqual(['/static/chart.umd.js', '/static/favicon.svg', '/static/stats.css', '/static/stats.js']);
    for (const asset of assets) {
      const res = await fetch(`${base}${asset}`);
      const body = await res.text();
      expect([asset, res.status, body.length > 300]).toEqual([asset, 200, true]);
    }
    expect((await fetch(`${base}/admin/queues`)).status).toBe(200);
  });

  it('pretty-prints its logs on a terminal (pino-pretty, loaded only there)', async () => {
    if (spawnSync('script', ['--version']).status !== 0) {
      console.warn('skipped: no `script` command (util-linux) to give the CLI a terminal');
      return;
    }
    const bin = join(project, 'node_modules', '.bin', 'pokequeue');
    // A worker on a terminal, with nothing on the Redis port: its first lines, then it is stopped.
    const r = spawnSync('script', ['-qec', `timeout -s KILL 1.5 ${bin} worker`, '/dev/null'], {
      encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'info', TERM: 'xterm' },
    });
    expect(r.stdout).toMatch(/INFO.*\(\d+\): .*worker starting: Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(r.stdout).not.toMatch(/"level":30/);
  });
});
