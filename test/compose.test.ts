import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { Command } from 'commander';
import { configVariables } from '../src/config/variables';
import { parseDockerfile } from './helpers/dockerfile';
import { CLI } from './helpers/processes';

/**
 * docker-compose.yml and the Dockerfile, checked as files. Docker cannot run where these tests
 * run (no daemon, no compose plugin), so nothing here builds an image or starts a container:
 * what is checked is the configuration a `docker compose up` would use, parsed the way compose
 * parses it (YAML with `<<` merge keys).
 */

const root = resolve(__dirname, '..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: unknown;
  container_name?: string;
  restart?: string;
  profiles?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}

const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const { instructions, stages } = parseDockerfile(resolve(root, 'Dockerfile'));

/** Seconds in a compose duration such as `40s`, `1m30s`. */
function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) {
    total += Number(n) * ({ h: 3600, m: 60, s: 1, ms: 0.001 } as Record<string, number>)[unit!]!;
  }
  return total;
}

/** The built CLI's commands (main.ts finds package.json relative to dist/, so the build is loaded). */
const cliCommands = new Map(
  (require(CLI) as { buildProgram(): Command }).buildProgram().commands.map((c) => [c.name(), c]),
);

describe('docker-compose.yml (checked statically: Docker cannot run here)', () => {
  describe('redis', () => {
    const redis = services.redis!;
    const command = (redis.command ?? []).join(' ');

    it('keeps an append-only file, fsynced every second', () => {
      expect(command).toMatch(/--appendonly yes/);
      expect(command).toMatch(/--appendfsync everysec/);
    });

    it('never evicts keys (BullMQ would lose jobs silently)', () => {
      expect(command).toMatch(/--maxmemory-policy noeviction/);
    });

    it('has a healthcheck the other services wait on', () => {
      expect(redis.healthcheck?.test.join(' ')).toMatch(/redis-cli.*ping/);
      for (const name of ['dashboard', 'worker', 'producer']) {
        expect(services[name]!.depends_on).toEqual(expect.objectContaining({ redis: { condition: 'service_healthy' } }));
      }
    });

    it('keeps its data in a named volume', () => {
      const data = (redis.volumes ?? []).find((v) => v.endsWith(':/data'));
      expect(data).toBeDefined();
      const name = data!.split(':')[0]!;
      expect(name).not.toMatch(/^[./~]/); // a name, not a bind mount
      expect(Object.keys(compose.volumes ?? {})).toContain(name);
    });
  });

  it('dashboard publishes the port it listens on', () => {
    const d = services.dashboard!;
    const port = d.command![d.command!.indexOf('--port') + 1];
    expect(d.ports?.some((p) => String(p).endsWith(`:${port}`))).toBe(true);
  });

  describe('worker', () => {
    const w = services.worker!;

    it('has no container_name, so `docker compose up --scale worker=N` works', () => {
      expect(w.container_name).toBeUndefined();
      expect(w.ports ?? []).toEqual([]); // a published port would clash between replicas too
    });

    it('runs `pokequeue worker` and restarts with the container', () => {
      expect(w.command).toEqual(['worker']);
      expect(w.restart).toBe('unless-stopped');
    });

    it('gives a stopping worker longer than SHUTDOWN_TIMEOUT_MS before Docker kills it', () => {
      const shutdownMs = Number(w.environment?.SHUTDOWN_TIMEOUT_MS ?? configVariables.shutdownTimeoutMs.default);
      expect(seconds(w.stop_grace_period ?? '10s') * 1000).toBeGreaterThan(shutdownMs);
    });
  });

  describe('producer', () => {
    const p = services.producer!;

    it('is a one-off: never restarted, behind a profile so `up` leaves it out', () => {
      expect(p.restart).toBe('no');
      expect(p.profiles?.length).toBeGreaterThan(0);
      expect(p.ports ?? []).toEqual([]);
    });

    it('runs the CLI, so `docker compose run --rm producer enqueue 1-151 --wait` works', () => {
      // `run` replaces the command; the image's ENTRYPOINT must be the CLI for that to work.
      expect(p.entrypoint).toBeUndefined();
      expect(instructions.filter((i) => i.op === 'ENTRYPOINT').pop()?.args).toBe('["node", "dist/src/cli/main.js"]');
      const enqueue = cliCommands.get('enqueue');
      expect(enqueue?.options.map((o) => o.long)).toContain('--wait');
    });
  });

  it('sim-api is behind a profile of its own', () => {
    const s = services['sim-api']!;
    expect(s.profiles?.length).toBeGreaterThan(0);
    expect(s.profiles).not.toEqual(services.producer!.profiles);
  });

  it('runs only commands the CLI has', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'redis') continue;
      const command = s.command?.[0];
      expect({ service: name, known: command !== undefined && cliCommands.has(command) }).toEqual({ service: name, known: true });
    }
  });

  it('points every pokequeue service at the same Redis and prefix', () => {
    const app = Object.entries(services).filter(([name]) => name !== 'redis');
    for (const [, s] of app) {
      expect(s.image).toBe(services.worker!.image);
      expect(s.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect(s.environment?.QUEUE_PREFIX).toBe(services.worker!.environment?.QUEUE_PREFIX);
    }
  });
});

describe('Dockerfile (checked statically: Docker cannot run here)', () => {
  const runtime = stages[stages.length - 1]!;

  it('is multi-stage: the image carries no compiler or dev dependencies', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtimeText = runtime.lines.map((l) => `${l.op} ${l.args}`).join('\n');
    expect(runtimeText).not.toMatch(/npm (ci|install)(?!.*--omit=dev)/);
    expect(runtimeText).toMatch(/COPY --from=\S+ \S*dist/);
  });

  it('installs production dependencies only into the image', () => {
    const nodeModules = runtime.lines.find((l) => l.op === 'COPY' && /node_modules/.test(l.args));
    expect(nodeModules).toBeDefined();
    const from = /--from=(\S+)/.exec(nodeModules!.args)![1];
    const source = stages.find((s) => s.name === from)!;
    const text = source.lines.map((l) => l.args).join('\n');
    expect(text).toMatch(/npm (prune|ci|install)[^\n]*--omit=dev|npm (ci|install)[^\n]*--production/);
    expect(runtime.lines.some((l) => l.op === 'ENV' && /NODE_ENV[= ]production/.test(l.args))).toBe(true);
  });

  it('copies into the build stage everything `npm run build` reads', () => {
    const build = stages[0]!;
    const copied = build.lines.filter((l) => l.op === 'COPY' && !l.args.includes('--from')).flatMap((l) => l.args.split(/\s+/).slice(0, -1));
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const tsconfig = JSON.parse(readFileSync(resolve(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    // The build script's own files (scripts/bundle-cli.js) and every folder tsc compiles.
    const scriptDirs = [...pkg.scripts.build!.matchAll(/node (\S+?)\/[^/\s]+\.js/g)].map((m) => m[1]!);
    const needed = new Set(['tsconfig.json', 'tsconfig.build.json', ...tsconfig.include, ...scriptDirs]);
    expect(scriptDirs).toContain('scripts');
    for (const path of needed) expect({ path, copied: copied.some((c) => c.replace(/^\.\//, '') === path) }).toEqual({ path, copied: true });
  });

  it('runs as a non-root user', () => {
    const user = runtime.lines.filter((l) => l.op === 'USER').pop()?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  it('copies only what exists in the build context, and .dockerignore keeps secrets and builds out', () => {
    for (const copy of instructions.filter((i) => i.op === 'COPY' && !i.args.includes('--from'))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const src of sources) expect({ src, exists: existsSync(resolve(root, src)) }).toEqual({ src, exists: true });
    }
    const ignored = readFileSync(resolve(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.env']));
  });
});
