import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { execForm, parseCopy, parseDockerfile } from './helpers/dockerfile';
import { runCli, startCliProcess, type SpawnOptions, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

const ROOT = resolve(__dirname, '..');

/**
 * The Dockerfile's runtime stage, replayed without Docker (no engine can run here): a directory
 * gets exactly what the stage's COPY lines copy from the build stage, and the processes run from
 * it the way the image runs them (its ENTRYPOINT and CMD, its ENV, as a user other than root).
 * The build stage's /app is this checkout after `npm run build`, except node_modules, which the
 * build stage prunes to production dependencies: those are installed here, from the lockfile.
 * A file the image forgets is missing here too, and the worker or the dashboard fails.
 */
describe('the Docker image, replayed from its runtime stage', () => {
  const { stages } = parseDockerfile(join(ROOT, 'Dockerfile'));
  const build = stages[0]!;
  const runtime = stages[stages.length - 1]!;
  let dir: string;
  let app: string;
  let redis: TestRedis;
  let image: SpawnOptions;
  let imageEnv: Record<string, string>;
  let env: Record<string, string>;
  const copied: string[] = [];
  const running: WorkerProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pokequeue-image-'));
    chmodSync(dir, 0o755);
    const workdir = runtime.lines.filter((l) => l.op === 'WORKDIR').pop()?.args ?? '/';
    app = join(dir, 'root', workdir);
    mkdirSync(app, { recursive: true });
    const buildWorkdir = build.lines.filter((l) => l.op === 'WORKDIR').pop()?.args ?? '/';
    for (const line of runtime.lines.filter((l) => l.op === 'COPY')) {
      const { from, sources, dest } = parseCopy(line.args);
      expect({ line: line.args, from }).toEqual({ line: line.args, from: build.name });
      const target = resolve(app, dest);
      const intoDir = sources.length > 1 || dest.endsWith('/');
      for (const source of sources) {
        const inBuild = source.startsWith('/') ? source : join(buildWorkdir, source);
        const relative = inBuild.slice(buildWorkdir.length).replace(/^\//, '');
        const to = intoDir ? join(target, basename(source)) : target;
        if (relative === 'node_modules') installProductionDependencies(to);
        else cpSync(join(ROOT, relative), to, { recursive: true });
        copied.push(relative);
      }
    }
    imageEnv = Object.fromEntries(
      runtime.lines.filter((l) => l.op === 'ENV').map((l) => /^(\S+?)[= ](.*)$/.exec(l.args)!.slice(1, 3) as [string, string]),
    );
    const entrypoint = execForm(runtime.lines.filter((l) => l.op === 'ENTRYPOINT').pop()?.args);
    // USER: the image runs as an unprivileged user, so nothing may need to write where it is installed.
    const user = runtime.lines.filter((l) => l.op === 'USER').pop()?.args;
    const asUser = user && user !== 'root' && process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    image = { command: entrypoint, cwd: app, ...asUser };
    redis = await startTestRedis();
    env = { ...imageEnv, REDIS_URL: redis.url, QUEUE_PREFIX: 'image', RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** What the build stage leaves in /app/node_modules: `npm ci --ignore-scripts`, then `npm prune --omit=dev`. */
  function installProductionDependencies(to: string): void {
    const scratch = join(dir, 'npm');
    mkdirSync(scratch);
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(scratch, f));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    cpSync(join(scratch, 'node_modules'), to, { recursive: true });
  }

  it('carries production dependencies only', () => {
    expect(copied).toContain('node_modules');
    expect(readdirSync(join(app, 'node_modules'))).toEqual(expect.arrayContaining(['bullmq', 'express', 'chart.js']));
    // (typescript is not among them: bull-board's valibot names it an optional peer, which npm installs.)
    for (const dev of ['jest', 'ts-jest', 'esbuild', 'playwright-core', 'yaml']) expect([dev, existsSync(join(app, 'node_modules', dev))]).toEqual([dev, false]);
  });

  it('runs the worker service (its CMD) and a batch from the image: sim-api, worker, enqueue --wait', async () => {
    const cmd = execForm(runtime.lines.filter((l) => l.op === 'CMD').pop()?.args);
    expect(cmd).toEqual(['worker']);
    const sim = await startCliProcess(['sim-api', '--port', '0'], imageEnv, /listening on (http\S+)/, 20_000, image);
    running.push(sim);
    const simUrl = /listening on (http\S+)/.exec(sim.output())![1]!;
    running.push(await startCliProcess(cmd, { ...env, POKEAPI_URL: simUrl, LOG_LEVEL: 'info' }, /worker ready/, 20_000, image));
    const batch = await runCli(['enqueue', '1-20', '--wait', '--json'], env, 60_000, image);
    expect({ code: batch.code, stderr: batch.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(JSON.parse(batch.stdout)).toMatchObject({ requested: 20, completed: 20, failed: 0 });
  });

  it("runs the dashboard from the image: /stats and every file it loads", async () => {
    const dashboard = await startCliProcess(['dashboard', '--port', '0'], env, /^dashboard: (http:\/\/\S+)\/admin\/queues/m, 20_000, image);
    running.push(dashboard);
    const base = /^dashboard: (http:\/\/\S+)\/admin\/queues/m.exec(dashboard.output())![1]!;
    const page = await fetch(`${base}/stats`);
    expect(page.status).toBe(200);
    const assets = [...(await page.text()).matchAll(/(?:src|href)="(\/static\/[^"]+)"/g)].map((m) => m[1]!).sort();
    expect(assets).toEqual(['/static/chart.umd.js', '/static/favicon.svg', '/static/stats.css', '/static/stats.js']);
    for (const asset of assets) expect([asset, (await fetch(`${base}${asset}`)).status]).toEqual([asset, 200]);
    expect((await fetch(`${base}/admin/queues`)).status).toBe(200);
  });
});
