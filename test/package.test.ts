import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import vm from 'node:vm';
import { writeNamedPayloads } from './helpers/named-api';
import { cliEnv, runCli, startCliProcess, type CliResult, type SpawnOptions, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

const ROOT = resolve(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; files: string[] };

/**
 * The library's type declarations: those src/index.d.ts reaches, and only those (the test below
 * walks the shipped ones). They import nothing but each other.
 */
const LIBRARY_TYPES = [
  'index.d.ts', 'index.d.mts', 'api/pokequeue.d.ts', 'api/types.d.ts', 'batch/batch.d.ts', 'config/errors.d.ts',
  'pokeapi/errors.d.ts', 'redis/errors.d.ts', 'stats/histogram.d.ts', 'types.d.ts',
];
/** What `require('pokequeue')` and `import … from 'pokequeue'` give: the classes (types are not values). */
const LIBRARY_EXPORTS = [
  'BadListError', 'BatchNotFoundError', 'BatchWatchLostError', 'ConfigError', 'InvalidSpecError', 'PartialEnqueueError', 'PokeApiError',
  'PokeApiUnavailableError', 'PokeQueue', 'RedisUnavailableError', 'UnknownNameError',
];

/** The files of the package, by decision (package.json `files`): what runs, and nothing else. */
const EXPECTED_FILES = [
  'README.md',
  'package.json',
  'dist/src/cli/main.js', // the bin: loads bundle.js through its code cache
  'dist/src/cli/bundle.js', // every command
  'dist/src/cli/bundle.v8', // V8's code cache of bundle.js, written at build time
  'dist/src/pokeapi/parse-thread.js', // loaded by worker threads as a file of its own
  'dist/lib/index.js', // the library: `main`, and `exports` for require
  'dist/lib/index.mjs', // its ES module entry (`exports` for import), re-exporting index.js
  ...LIBRARY_TYPES.map((f) => `dist/src/${f}`), // the declarations of its surface, and nothing more of tsc's
  'src/dashboard/public/favicon.svg', // the /stats page, served as it is
  'src/dashboard/public/stats.css',
  'src/dashboard/public/stats.html',
  'src/dashboard/public/stats.js',
  'src/redis/lua/adopt-ids.lua', // the Redis scripts, read at run time (src/redis/scripts.ts)
  'src/redis/lua/claim-names.lua',
  'src/redis/lua/classify-ids.lua',
  'src/redis/lua/collect-metrics.lua',
  'src/redis/lua/commit-group.lua',
  'src/redis/lua/create-batch.lua',
  'src/redis/lua/includes/claim-names.lua',
  'src/redis/lua/includes/finish-if-done.lua',
  'src/redis/lua/publish-heartbeat.lua',
  'src/redis/lua/raise-max.lua',
  'src/redis/lua/scan-record-ids.lua',
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
  /** The fields `enqueue --wait --json` printed, for the programs to compare `batch.done()` with. */
  let cliSummaryKeys: string[] = [];

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
    // With TypeScript and Node's types, as a TypeScript user's project has them: the versions this
    // project builds with, which `npm ci` left in the cache.
    const devVersion = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    const typescript = [`typescript@${devVersion('typescript')}`, `@types/node@${devVersion('@types/node')}`];
    timed('npm install', () =>
      execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball!.filename), ...typescript], {
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
    const summary = JSON.parse(batch.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ requested: 20, completed: 20, failed: 0 });
    cliSummaryKeys = Object.keys(summary);
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

  /**
   * The library as a user's program gets it: from the installed package, type-checked under
   * `strict` with `module: node16` (and the packages' own declarations checked too), then run
   * against this file's Redis, a worker of the installed package and its simulator serving an
   * API that names its Pokémon like the real one (#25 is pikachu). The programs are
   * test/fixtures/library/ (every call, in TypeScript and in a plain .mjs) and every example of
   * the README's "From a program", as the README shows them.
   */
  describe('as a library', () => {
    const libEnv = () => ({ ...env, QUEUE_PREFIX: 'library', POKEAPI_URL: namedApi });
    let namedApi = '';
    let readmeFiles: string[] = [];
    let otherBatch = '';

    /** Runs `node <file> ...args` in the project, bounded, with only the test's environment. */
    function runNode(file: string, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
      return new Promise((done, fail) => {
        const child = spawn(process.execPath, [file, ...args], { cwd: project, env: cliEnv({ ...libEnv(), ...extraEnv }), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        child.on('error', fail);
        child.on('close', (code) => {
          clearTimeout(timer);
          done({ code, stdout, stderr });
        });
      });
    }

    beforeAll(async () => {
      const sim = await startCliProcess(['sim-api', '--port', '0', '--data-dir', writeNamedPayloads(join(dir, 'named-api'))], {}, /listening on (http\S+)/, 20_000, { ...npx, cwd: project });
      running.push(sim);
      namedApi = /listening on (http\S+)/.exec(sim.output())![1]!;
      running.push(await startCliProcess(['worker'], { ...libEnv(), LOG_LEVEL: 'info' }, /worker ready/, 20_000, { ...npx, cwd: project }));
      // A batch another process enqueued, for `pq.batch(id)`.
      const other = await runCli(['enqueue', '40-50', '--json'], libEnv(), 30_000, { ...npx, cwd: project });
      expect(other.code).toBe(0);
      otherBatch = (JSON.parse(other.stdout) as { batchId: string }).batchId;

      // The README's examples, as files: TypeScript as ES modules (top-level await), JavaScript as
      // it imports (`import`: .mjs, `require`: .cjs).
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const section = /^## From a program\n([\s\S]*?)^## /m.exec(readme)![1]!;
      readmeFiles = [...section.matchAll(/^```(ts|js)\n([\s\S]*?)^```$/gm)].map(([, lang, code], i) => {
        const file = `readme-${i + 1}.${lang === 'ts' ? 'mts' : /^import /m.test(code!) ? 'mjs' : 'cjs'}`;
        writeFileSync(join(project, file), code!);
        return file;
      });
      const fixtures = join(ROOT, 'test', 'fixtures', 'library');
      for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(project, f));
      // One compile for all of them: the program and the README's TypeScript.
      const tsc = timed('tsc', () => spawnSync(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, encoding: 'utf8' }));
      expect({ status: tsc.status, output: tsc.stdout + tsc.stderr }).toEqual({ status: 0, output: '' });
    }, 180_000);

    it('exports exactly its documented surface, to require and to import alike, and nothing deeper', () => {
      const node = (args: string[]) => execFileSync(process.execPath, args, { cwd: project, encoding: 'utf8' });
      expect(JSON.parse(node(['-e', "console.log(JSON.stringify(Object.keys(require('pokequeue')).sort()))"]))).toEqual(LIBRARY_EXPORTS);
      const esm = "import * as pq from 'pokequeue'; import { createRequire } from 'node:module'; console.log(JSON.stringify([Object.keys(pq).sort(), pq.PokeQueue === createRequire(import.meta.url)('pokequeue').PokeQueue]))";
      expect(JSON.parse(node(['--input-type=module', '-e', esm]))).toEqual([LIBRARY_EXPORTS, true]);
      const deep = spawnSync(process.execPath, ['-e', "require('pokequeue/dist/lib/index.js')"], { cwd: project, encoding: 'utf8' });
      expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
    });

    it('ships the declarations its surface reaches, which import nothing but each other', () => {
      const types = join(project, 'node_modules', pkg.name, 'dist', 'src');
      const reached = new Set<string>();
      const outside = new Set<string>();
      const walk = (file: string) => {
        if (reached.has(file)) return;
        reached.add(file);
        const text = readFileSync(join(types, file), 'utf8');
        for (const [, spec] of text.matchAll(/^(?:import|export)\b[^'"\n]*from '([^']+)'/gm)) {
          if (spec!.startsWith('.')) walk(join(dirname(file), spec!.replace(/\.js$/, '')) + '.d.ts');
          else outside.add(spec!);
        }
      };
      walk('index.d.ts');
      walk('index.d.mts');
      expect([...reached].sort()).toEqual([...LIBRARY_TYPES].sort());
      expect([...outside]).toEqual([]);
    });

    it("type-checks and runs a strict TypeScript program that uses every call and type (CommonJS)", async () => {
      const r = await runNode('out/app.js', [], { OTHER_BATCH: otherBatch, CLI_SUMMARY_KEYS: cliSummaryKeys.join(',') });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, records: expect.any(Number) });
    }, 120_000);

    it('runs a plain .mjs program that uses every call', async () => {
      const r = await runNode('app.mjs', [], { OTHER_BATCH: otherBatch });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
    }, 120_000);

    it("runs every example of the README's \"From a program\" as it is written", async () => {
      expect(readmeFiles.map((f) => f.replace(/^readme-\d+/, ''))).toEqual(['.mts', '.mts', '.mts', '.mts', '.cjs', '.mjs']);
      const outputs: string[] = [];
      for (const file of readmeFiles) {
        const compiled = file.endsWith('.mts') ? `out/${file.replace(/\.mts$/, '.mjs')}` : file;
        const r = await runNode(compiled, [otherBatch]);
        expect({ file, code: r.code, stderr: r.stderr.replace(/\r[^\r\n]*/g, '') }).toEqual({ file, code: 0, stderr: '' });
        outputs.push(r.stdout);
      }
      const [follow, together, read, errors, commonJs, esModule] = outputs;
      expect(follow).toMatch(/^b-\S+: 151 requested, \d+ added, \d+ already queued, \d+ already stored$/m);
      expect(follow).toMatch(/^\d+ stored, 0 failed, fetch p95 \d+ ms$/m);
      expect(JSON.parse(together!)).toMatchObject({ batchId: otherBatch, requested: 11, failed: 0 });
      expect(read).toMatch(/^\d+ stored, 1 live workers, \d+ jobs waiting$/m);
      expect(read).toMatch(/^heaviest: #\d+ /m);
      expect(errors).toMatch(/^no Pokémon is named pikachuu; did you mean pikachu\?$/m);
      expect(commonJs).toMatch(/^3 fetched again in \d+ ms$/m);
      expect(esModule).toMatch(/^mewtwo: [01] fetched, [01] already stored, 0 failed$/m);
    }, 180_000);
  });
});
