import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type LocalRedisServer } from '../src/redis/local-server';
import { runCli, startCliProcess, type CliResult, type WorkerProcess } from './helpers/processes';

/**
 * A Redis that answers but will not let us in: every command says what Redis said and what to
 * do (exit 1; 2 for a database the server does not have, before anything is written), and a
 * worker keeps retrying with the real reason in its log. Each case runs the shipped CLI against
 * a redis-server started for it.
 */

const PASSWORD = 'correct horse';
const PREFIX = 'refusals';

/** What no message may say once Redis has given its reason. */
function expectNoMisleadingWords(r: CliResult | string): void {
  const text = typeof r === 'string' ? r : r.stderr + r.stdout;
  expect(text).not.toMatch(/cannot reach|Is Redis running|EPIPE|ECONNRESET|a password was supplied/);
  expect(text).not.toMatch(/\n\s+at /); // no stack trace
}

describe('when Redis refuses the connection', () => {
  describe('with a password required (redis-server --requirepass)', () => {
    let server: LocalRedisServer;
    let client: Redis;
    let url: string;
    let patient: Promise<WorkerProcess>;

    beforeAll(async () => {
      server = await startRedisServer({ extraArgs: ['--requirepass', PASSWORD] });
      client = new Redis(server.url, { password: PASSWORD, maxRetriesPerRequest: 1 });
      url = `redis://127.0.0.1:${server.port}`;
      // Started first, since it waits the longest: a worker with the wrong password (see the last test).
      patient = startCliProcess(['worker'], { REDIS_URL: `redis://:not-the-password@127.0.0.1:${server.port}`, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'debug' }, /WRONGPASS/);
    });
    afterAll(async () => {
      await (await patient.catch(() => undefined))?.stop('SIGKILL');
      client?.disconnect();
      await server?.stop();
    });

    it('says NOAUTH and where the password goes, when REDIS_URL has none (exit 1, at once)', async () => {
      const r = await runCli(['status'], { REDIS_URL: url, QUEUE_PREFIX: PREFIX });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: Redis at redis://127\\.0\\.0\\.1:${server.port} answered "NOAUTH `, 'm'));
      expect(r.stderr).toContain('That Redis wants a password: put it in REDIS_URL');
      expectNoMisleadingWords(r);
    });

    it('says WRONGPASS when the password is wrong, never printing it, and changes nothing', async () => {
      const r = await runCli(['enqueue', '1-3'], { REDIS_URL: `redis://:hunter2@127.0.0.1:${server.port}`, QUEUE_PREFIX: PREFIX });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/answered "WRONGPASS invalid username-password pair or user is disabled\."/);
      expect(r.stderr).toContain('The user name or password in REDIS_URL is wrong');
      expect(r.stderr).toContain('redis://:***@127.0.0.1');
      expect(r.stderr).not.toContain('hunter2');
      expectNoMisleadingWords(r);
      expect(await client.dbsize()).toBe(0);
    });

    it('calls a database the server does not have a configuration error: exit 2, nothing written anywhere', async () => {
      const env = { REDIS_URL: `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}/99`, QUEUE_PREFIX: PREFIX };
      for (const args of [['enqueue', '1-3'], ['worker']]) {
        const r = await runCli(args, env, 20_000);
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.stderr).toMatch(/answered "ERR DB index is out of range" to SELECT 99\. REDIS_URL names database 99/);
        expect(r.stderr).not.toContain(PASSWORD);
        expectNoMisleadingWords(r);
      }
      // ioredis would have gone on with database 0: nothing may land there (or anywhere).
      expect(await client.dbsize()).toBe(0);
      expect(await client.info('keyspace')).not.toMatch(/^db\d+:/m);
    });

    it('has a worker keep retrying, saying WRONGPASS every few seconds (not every retry), until the password is right', async () => {
      const worker = await patient;
      const reasons = () => worker.output().split('\n').filter((l) => /waiting for Redis at .*answered \\"WRONGPASS/.test(l));
      const retries = () => worker.output().split('\n').filter((l) => l.includes('"msg":"redis connection error"'));
      // Retries at 0.5, 1.5, 3.5 s... (each one an error on both of its connections): by then at
      // least three, and one line that says why (two on a machine slow enough to push the fourth
      // retry past the 4 s mark).
      await new Promise((r) => setTimeout(r, 3600));
      expect(retries().length).toBeGreaterThanOrEqual(6);
      expect(reasons().length).toBeGreaterThanOrEqual(1);
      expect(reasons().length).toBeLessThanOrEqual(2);
      for (const line of reasons()) expect(line).toContain('The user name or password in REDIS_URL is wrong');
      expect(worker.child.exitCode).toBeNull();
      expectNoMisleadingWords(worker.output());
      // An operator fixes the server side: the worker comes up by itself at its next retry.
      await client.config('SET', 'requirepass', 'not-the-password');
      const deadline = Date.now() + 10_000;
      while (!worker.output().includes('worker ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(worker.output()).toContain('worker ready');
      await client.config('SET', 'requirepass', PASSWORD);
    });
  });

  describe('with TLS on one side only', () => {
    const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
    let plain: LocalRedisServer;
    let tlsOnly: LocalRedisServer | undefined;
    let tlsProblem = haveOpenssl ? '' : 'no openssl to make a certificate with';
    let certDir: string;

    beforeAll(async () => {
      plain = await startRedisServer();
      if (!haveOpenssl) return;
      certDir = mkdtempSync(join(tmpdir(), 'pokequeue-tls-'));
      const made = spawnSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
      ]);
      if (made.status !== 0) {
        tlsProblem = `openssl could not make a certificate: ${made.stderr}`;
        return;
      }
      const port = await freePort();
      // The TLS port is the one waited on; --port 0 turns the plain one off.
      tlsOnly = await startRedisServer({
        port,
        extraArgs: ['--tls-port', String(port), '--port', '0', '--tls-cert-file', join(certDir, 'cert.pem'), '--tls-key-file', join(certDir, 'key.pem'), '--tls-auth-clients', 'no'],
      }).catch((err: Error) => {
        tlsProblem = `this redis-server has no TLS (${err.message.split('\n')[0]})`;
        return undefined;
      });
    });
    afterAll(async () => {
      await plain?.stop();
      await tlsOnly?.stop();
      if (certDir) rmSync(certDir, { recursive: true, force: true });
    });

    it('says a rediss:// URL points at a plain server, and to use redis://, within about a second', async () => {
      const r = await runCli(['status'], { REDIS_URL: `rediss://127.0.0.1:${plain.port}`, QUEUE_PREFIX: PREFIX }, 20_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/gave no answer to the TLS handshake, and the same port answers "\+PONG" without TLS: it speaks plain Redis/);
      expect(r.stderr).toContain('use redis://');
      expectNoMisleadingWords(r);
    });

    it('says a redis:// URL points at a TLS-only server, and to use rediss://', async () => {
      if (!tlsOnly) {
        console.warn(`skipped: redis:// against a TLS-only server: ${tlsProblem}`);
        return;
      }
      const r = await runCli(['status'], { REDIS_URL: `redis://127.0.0.1:${tlsOnly.port}`, QUEUE_PREFIX: PREFIX }, 20_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/closed the connection without an answer, and a TLS handshake on the same port succeeds: it speaks TLS only\. Use rediss:\/\//);
      expectNoMisleadingWords(r);
    });

    it("says when the server's TLS certificate is not trusted, and how to trust it", async () => {
      if (!tlsOnly) {
        console.warn(`skipped: rediss:// with a self-signed certificate: ${tlsProblem}`);
        return;
      }
      const r = await runCli(['status'], { REDIS_URL: `rediss://127.0.0.1:${tlsOnly.port}`, QUEUE_PREFIX: PREFIX }, 20_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/presented a TLS certificate that Node does not trust \(self-signed certificate\)\. Let Node trust the server's CA with NODE_EXTRA_CA_CERTS/);
      expectNoMisleadingWords(r);
    });
  });

  // Protected mode refuses clients that do not come from loopback, so this one needs a Redis on
  // another address: a network namespace of our own, with an address of its own on its lo.
  const netnsProblem =
    process.getuid?.() !== 0 ? 'not root (creating a network namespace needs it)' : spawnSync('ip', ['-V']).status !== 0 ? 'no `ip` command (iproute2)' : '';
  if (netnsProblem) console.warn(`protected-mode (DENIED) test skipped: ${netnsProblem}`);
  (netnsProblem ? describe.skip : describe)('in protected mode, seen from another address (DENIED)', () => {
    const ns = `pq-refusals-${process.pid}`;
    const address = '10.77.0.1';
    const via = ['ip', 'netns', 'exec', ns];
    let redis: ChildProcess | undefined;

    beforeAll(async () => {
      // A namespace left behind by a run that was killed outright goes first.
      const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.match(/^pq-refusals-\d+/gm) ?? [];
      for (const old of left) if (!isRunning(Number(old.split('-').pop()))) spawnSync('ip', ['netns', 'del', old]);
      for (const args of [['netns', 'add', ns], ['-n', ns, 'link', 'set', 'lo', 'up'], ['-n', ns, 'addr', 'add', `${address}/32`, 'dev', 'lo']]) {
        const r = spawnSync('ip', args, { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
      }
      // Bound to that address only, protected mode on and no password: what a fresh install on
      // another machine looks like to a worker.
      redis = spawn('ip', [...via.slice(1), 'redis-server', '--port', '6379', '--bind', address, '--protected-mode', 'yes', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis-server in ${ns} did not start:\n${out}`)), 10_000);
        redis!.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Ready to accept connections')) {
            clearTimeout(timer);
            resolve();
          }
        });
        redis!.once('exit', (code) => reject(new Error(`redis-server in ${ns} exited (${code}):\n${out}`)));
      });
    });
    afterAll(async () => {
      if (redis && redis.exitCode === null) {
        const exited = new Promise((r) => redis!.once('exit', r));
        redis.kill('SIGKILL');
        await exited;
      }
      spawnSync('ip', ['netns', 'del', ns]);
    });

    it('says DENIED and the two ways out, instead of "cannot reach" (exit 1, at once)', async () => {
      const r = await runCli(['status'], { REDIS_URL: `redis://${address}:6379`, QUEUE_PREFIX: PREFIX }, 20_000, { via });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^error: Redis at redis:\/\/10\.77\.0\.1:6379 answered "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user\. In this mode connections are only accepted from the loopback interface\."/m,
      );
      expect(r.stderr).toMatch(/Give it one \(requirepass, or an ACL user\) and put it in REDIS_URL; or, if only trusted hosts can reach it, start it with --protected-mode no/);
      expectNoMisleadingWords(r);
    });

    it('has a worker log DENIED as the reason it keeps waiting', async () => {
      const worker = await startWorkerUntil(/DENIED/, { REDIS_URL: `redis://${address}:6379`, QUEUE_PREFIX: PREFIX }, via);
      try {
        expect(worker.output()).toMatch(/waiting for Redis at redis:\/\/10\.77\.0\.1:6379, which answered \\"DENIED Redis is running in protected mode/);
        expectNoMisleadingWords(worker.output());
      } finally {
        await worker.stop('SIGKILL');
      }
    });
  });
});

function startWorkerUntil(ready: RegExp, env: Record<string, string>, via: string[]): Promise<WorkerProcess> {
  return startCliProcess(['worker'], { LOG_LEVEL: 'info', ...env }, ready, 15_000, { via });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
